// Staff screen: fetch the current code every few seconds, redraw it when it
// rotates, count down to the next rotation and show who is in. No libraries.
(function () {
  var box = document.getElementById("qr");
  var source = box.getAttribute("data-source");
  var shownUrl = null, expiresAt = 0, skew = 0;

  function refresh() {
    fetch(source, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        document.body.classList.remove("offline");
        skew = Date.parse(data.now) - Date.now();
        // Valid for two windows; rotate the display after the first.
        expiresAt = Date.parse(data.expires_at) - 30000;
        if (data.url !== shownUrl) { box.innerHTML = data.svg; shownUrl = data.url; box.setAttribute("data-url", data.url); }
        document.getElementById("present").textContent = data.present;
        document.getElementById("completed").textContent = data.completed;
      })
      .catch(function () { document.body.classList.add("offline"); });
  }

  function tick() {
    var left = Math.max(0, Math.ceil((expiresAt - (Date.now() + skew)) / 1000));
    document.getElementById("countdown").textContent = left;
    if (left === 0) refresh();
  }

  refresh();
  setInterval(tick, 1000);
  setInterval(refresh, 5000);  // the live count
})();
