// Live progress of a campaign's send: every few seconds, read the progress (JSON) and put its
// words in the page's aria-live region. The page works without this: it has a refresh link.
(function () {
  "use strict";
  var region = document.getElementById("progress");
  if (!region || !window.fetch) { return; }
  var words = document.getElementById("progress-words");
  var status = document.getElementById("campaign-status");
  function look() {
    fetch(region.getAttribute("data-url"), { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (now) {
        if (!now) { return; }
        if (words.textContent !== now.words) { words.textContent = now.words; }
        if (status && status.textContent !== now.status_words) {
          status.textContent = now.status_words;
        }
        if (now.watch) { window.setTimeout(look, 5000); }
      })
      .catch(function () { window.setTimeout(look, 15000); });
  }
  if (region.getAttribute("data-watch") === "yes") { window.setTimeout(look, 5000); }
})();
