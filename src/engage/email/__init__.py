"""Sending email: the interface every provider implements (base.py), the header writer
(headers.py), the HTTP providers' shared steps (http.py) and their records (records.py). The
providers themselves, one unit each, are in engage/providers/."""
