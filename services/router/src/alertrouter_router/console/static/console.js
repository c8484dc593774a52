// alertrouter console: live regions. An element with data-live-url is refreshed from that URL (an HTML fragment
// rendered by the server) every data-live-seconds, while the tab is visible. No framework, no build step.
"use strict";
(function () {
  function refresh(element, status) {
    return fetch(element.dataset.liveUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { throw new Error("status " + response.status); }
        return response.text();
      })
      .then(function (html) {
        // Compared as the browser writes HTML back (required="", entities): the server's text never equals it, and
        // replacing an unchanged region would wipe what the person is typing or choosing in its forms.
        var fresh = document.createElement("template");
        fresh.innerHTML = html;
        if (element.innerHTML.trim() !== fresh.innerHTML.trim()) { element.innerHTML = html; }
        if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString() + "."; }
      })
      .catch(function () {
        if (status) { status.textContent = "Live updates paused (signed out or the router is unreachable)."; }
      });
  }
  function start(element) {
    var seconds = Math.max(1, parseInt(element.dataset.liveSeconds || "5", 10));
    var status = document.querySelector("[data-live-status]");
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) { return; }
      busy = true;
      refresh(element, status).finally(function () { busy = false; });
    }, seconds * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url]").forEach(start);
  });
})();
