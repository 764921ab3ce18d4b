"""Stories: from a contributor's reply to publication, done with them, not to them."""
