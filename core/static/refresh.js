// Reloads a page that shows a rotating code, so the code on the screen stays
// current (a <meta refresh> would also reload while someone is reading it and
// screen readers announce it). Use: <script src=".../refresh.js" data-seconds="60" defer>
(function () {
  var script = document.currentScript;
  var seconds = parseInt((script && script.getAttribute("data-seconds")) || "60", 10);
  setInterval(function () {
    if (!document.hidden) { window.location.reload(); }
  }, Math.max(seconds, 10) * 1000);
})();
