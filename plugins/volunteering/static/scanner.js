// Staff scanner: where the browser has BarcodeDetector, scan the volunteer's
// own code live with the camera; otherwise the form (typed code or photo) works.
(function () {
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var box = document.getElementById("camera-box");
  var video = document.getElementById("camera");
  var button = document.getElementById("start-camera");
  var out = document.getElementById("live-result");
  var busy = false, last = null;
  button.hidden = false;

  function send(token) {
    busy = true;
    fetch(box.getAttribute("data-api"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": document.getElementById("csrf").value},
      body: JSON.stringify({token: token, kind: document.getElementById("kind").value})
    }).then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (res) {
        var ok = res[0], body = res[1];
        out.className = "result " + (ok ? "ok" : "fail");
        out.innerHTML = "<div class='headline'></div>";
        out.firstChild.textContent = ok ? body.name + (body.kind === "checkin" ? " 签到成功" : " 签退成功") : body.error.message;
      })
      .finally(function () { setTimeout(function () { busy = false; }, 1500); });
  }

  button.addEventListener("click", function () {
    var detector = new BarcodeDetector({formats: ["qr_code"]});
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (stream) {
      video.srcObject = stream; video.hidden = false; video.play(); button.hidden = true;
      setInterval(function () {
        if (busy || video.readyState < 2) return;
        detector.detect(video).then(function (codes) {
          if (codes.length && codes[0].rawValue !== last) { last = codes[0].rawValue; send(last); }
        });
      }, 400);
    }).catch(function () { out.textContent = "无法打开摄像头，请输入短码或拍照上传"; });
  });
})();
