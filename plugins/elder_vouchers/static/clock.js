// The running clock of an open visit: minutes and seconds since data-started (ISO 8601).
(function () {
  var clock = document.getElementById("visit-clock");
  if (!clock) { return; }
  var started = Date.parse(clock.getAttribute("data-started"));
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    clock.textContent = (h ? h + ":" : "") + pad(m) + ":" + pad(s);
  }
  tick();
  setInterval(tick, 1000);
}());
