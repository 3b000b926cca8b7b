// Checkpoint scanner: where the browser has BarcodeDetector, scan printed codes
// live with the camera and post them to /api/v1/scan; otherwise the phone's own
// camera app opens the code's /c/<token> link, which does the same.
(function () {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var box = document.getElementById("camera-box");
  var video = document.getElementById("camera");
  var button = document.getElementById("start-camera");
  var out = document.getElementById("live-result");
  var busy = false, last = null;
  button.classList.remove("patrol-hidden");

  function tokenOf(raw) {
    var at = raw.indexOf("/c/");
    return at >= 0 ? decodeURIComponent(raw.slice(at + 3)) : raw;
  }

  function show(ok, headline, detail) {
    out.className = "result " + (ok ? "ok" : "fail");
    out.textContent = "";
    var h = document.createElement("div"); h.className = "headline"; h.textContent = headline;
    out.appendChild(h);
    if (detail) { var p = document.createElement("p"); p.textContent = detail; out.appendChild(p); }
  }

  function send(raw) {
    busy = true;
    fetch(box.getAttribute("data-api"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": document.getElementById("csrf").value},
      body: JSON.stringify({token: tokenOf(raw)})
    }).then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (res) {
        var body = res[1];
        if (!res[0]) { show(false, body.error.message, ""); return; }
        var left = body.left || [];
        show(true, "已打卡 " + body.scanned + "/" + body.total + " ✓",
             left.length ? "下一个：" + left[0] + "；还剩：" + left.join("、") : "全部巡逻点已完成，辛苦了！");
      })
      .finally(function () { setTimeout(function () { busy = false; }, 1500); });
  }

  button.addEventListener("click", function () {
    var detector = new BarcodeDetector({formats: ["qr_code"]});
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (stream) {
      video.srcObject = stream; video.style.display = "block"; video.play();
      button.classList.add("patrol-hidden");
      setInterval(function () {
        if (busy || video.readyState < 2) return;
        detector.detect(video).then(function (codes) {
          if (codes.length && codes[0].rawValue !== last) { last = codes[0].rawValue; send(last); }
        });
      }, 400);
    }).catch(function () { show(false, "无法打开摄像头", "请用手机相机或微信扫一扫扫描巡逻点码"); });
  });
})();
