// Refreshes the campaign's count every few seconds (the page shows the same figures without
// JavaScript; a reload refreshes them then). Digits follow the page's language.
(function () {
  "use strict";
  var section = document.querySelector("[data-counts-url]");
  if (!section || !window.fetch) return;
  var persian = document.documentElement.lang === "fa";
  function digits(n) {
    var text = String(n);
    return persian ? text.replace(/[0-9]/g, function (d) { return "۰۱۲۳۴۵۶۷۸۹"[d]; }) : text;
  }
  function refresh() {
    fetch(section.getAttribute("data-counts-url"), { credentials: "omit" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        var total = section.querySelector("[data-count=total]");
        if (total) total.textContent = digits(data.total);
        var bar = section.querySelector("progress.voice-progress");
        if (bar) {
          bar.value = data.progress;
          bar.textContent = digits(data.progress) + " %";
        }
      })
      .catch(function () {});
  }
  setInterval(refresh, 5000);
})();
