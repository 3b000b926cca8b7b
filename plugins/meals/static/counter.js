// Counter: where the browser has BarcodeDetector, scan the elder's code or card
// live with the camera and serve through the API; otherwise the form (typed
// 8 digits or a photo decoded on the server) does the same.
(function () {
  var box = document.getElementById("camera-box");
  if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  var video = document.getElementById("camera");
  var button = document.getElementById("start-camera");
  var out = document.getElementById("result");
  var busy = false, last = null;
  button.hidden = false;

  function yuan(fen) { return "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0"); }

  function show(ok, text, sub) {
    out.innerHTML = "";
    var line = document.createElement("div");
    line.className = "line " + (ok ? "ok" : "fail");
    line.textContent = text;
    if (sub) { var s = document.createElement("span"); s.className = "sub"; s.textContent = sub; line.appendChild(s); }
    out.appendChild(line);
  }

  function send(code) {
    busy = true;
    fetch(box.getAttribute("data-api"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": document.getElementById("csrf").value},
      body: JSON.stringify({person_code: code, menu_id: parseInt(document.getElementById("menu_id").value, 10)})
    }).then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (res) {
        var b = res[1];
        if (res[0]) {
          show(true, b.name + " " + (b.age === null ? "" : b.age + "岁") + " 应付 " + yuan(b.to_pay),
               "价格 " + yuan(b.price) + " · 补贴 " + yuan(b.subsidy) + (b.funded ? "" : "（基金不足，记欠付）") + (b.booked ? "" : " · 未预订"));
        } else {
          show(false, (b.error.code === "already_served" ? "⚠ 第二份餐：" : "") + b.error.message);
        }
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
    }).catch(function () { show(false, "无法打开摄像头，请输入数字或拍照上传"); });
  });
})();
