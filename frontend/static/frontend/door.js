/* Door check-in (issue 12): scan a fan's QR code with the camera or type the code; the answer fills
   the screen; the count of checked-in / confirmed fans follows the door. The camera is read by the
   browser's BarcodeDetector where it has one, else by jsQR (vendored, static/frontend/vendor/). */
(function () {
  "use strict";

  var _ = window.gettext || function (text) { return text; };
  var fmt = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, name) { return values[name]; });
  };
  var STATS_EVERY_MS = 5000;
  var SCAN_EVERY_MS = 200;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function request(method, url, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(
      function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { ok: response.ok, status: response.status, data: data };
        });
      },
      function () { return { ok: false, status: 0, data: {} }; }
    );
  }

  function setup(door) {
    var form = door.querySelector("[data-door-form]");
    var input = form.querySelector("input");
    var answer = door.querySelector("[data-answer]");
    var title = door.querySelector("[data-answer-title]");
    var detail = door.querySelector("[data-answer-detail]");
    var video = door.querySelector("[data-video]");
    var startButton = door.querySelector("[data-scan-start]");
    var stopButton = door.querySelector("[data-scan-stop]");
    var note = door.querySelector("[data-scan-note]");
    var busy = false;
    var stream = null;
    var timer = null;
    var decode = null;

    function localTime(iso) {
      try {
        return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
          hour: "2-digit", minute: "2-digit", hour12: false, timeZone: door.dataset.tz,
        }).format(new Date(iso));
      } catch (e) {
        return iso;
      }
    }

    function refreshCount() {
      request("GET", door.dataset.statsUrl).then(function (result) {
        if (!result.ok) return;
        door.querySelector("[data-checked-in]").textContent = result.data.checked_in;
        door.querySelector("[data-confirmed]").textContent = result.data.confirmed;
      });
    }

    function show(state, heading, text) {
      answer.className = "door-answer answer-" + state;
      answer.dataset.state = state;
      title.textContent = heading;
      detail.textContent = text || "";
      answer.hidden = false;
      answer.focus();
    }

    function explain(result) {
      var data = result.data || {};
      if (result.ok) {
        var party = data.party_size > 1 ? " · " + fmt(_("party of %(count)s"), { count: data.party_size }, true) : "";
        return show("ok", _("Admitted"), (data.fan_name || data.fan_username || "") + party);
      }
      if (data.code === "already_checked_in") {
        return show("already", _("Already checked in"), fmt(_("at %(time)s by %(name)s"), {
          time: localTime(data.checked_in_at), name: data.checked_in_by_name || "?",
        }, true));
      }
      if (data.code === "not_for_this_session") return show("wrong", _("Not for this session"), data.detail);
      if (data.code === "cancelled") return show("wrong", _("Cancelled"), data.detail);
      if (data.code === "not_confirmed") return show("wrong", _("Not confirmed"), data.detail);
      if (data.code === "not_found") return show("wrong", _("Unknown code"), data.detail);
      if (result.status === 0) return show("wrong", _("No connection"), _("Network error: check your connection and try again."));
      return show("wrong", _("Not admitted"), data.detail || "");
    }

    function checkIn(code) {
      if (busy || !code.trim()) return;
      busy = true;
      request("POST", door.dataset.url, { checkin_code: code.trim() }).then(function (result) {
        explain(result);
        refreshCount();
      });
    }

    function next() {
      answer.hidden = true;
      busy = false;
      input.value = "";
      if (!stream) input.focus();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      checkIn(input.value);
    });
    door.querySelector("[data-answer-next]").addEventListener("click", next);

    /* --- camera ------------------------------------------------------------------------------- */

    function loadJsQR() {
      if (window.jsQR) return Promise.resolve(window.jsQR);
      return new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = door.dataset.jsqrSrc;
        script.onload = function () { resolve(window.jsQR); };
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }

    function decoder() {
      if ("BarcodeDetector" in window) {
        var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return Promise.resolve(function () {
          return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        });
      }
      return loadJsQR().then(function (jsQR) {
        var canvas = document.createElement("canvas");
        var context = canvas.getContext("2d", { willReadFrequently: true });
        return function () {
          if (!video.videoWidth) return Promise.resolve(null);
          canvas.width = video.videoWidth;
          canvas.height = video.videoHeight;
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var image = context.getImageData(0, 0, canvas.width, canvas.height);
          var found = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
          return Promise.resolve(found ? found.data : null);
        };
      });
    }

    function tick() {
      if (!stream || !decode) return;
      if (busy) { timer = window.setTimeout(tick, SCAN_EVERY_MS); return; }
      decode().then(function (code) {
        if (code) checkIn(code);
      }, function () {}).then(function () {
        timer = window.setTimeout(tick, SCAN_EVERY_MS);
      });
    }

    function stop() {
      window.clearTimeout(timer);
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      video.hidden = true;
      stopButton.hidden = true;
      startButton.hidden = false;
    }

    startButton.addEventListener("click", function () {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        note.textContent = _("This browser cannot use the camera here: type the code.");
        return;
      }
      note.textContent = _("Starting the camera…");
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        startButton.hidden = true;
        stopButton.hidden = false;
        return video.play().then(decoder).then(function (found) {
          decode = found;
          note.textContent = _("Point the camera at the fan's QR code.");
          tick();
        });
      }).catch(function () {
        stop();
        note.textContent = _("The camera is not available: type the code.");
      });
    });
    stopButton.addEventListener("click", function () { stop(); note.textContent = ""; });

    window.setInterval(function () { if (!document.hidden) refreshCount(); }, STATS_EVERY_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var door = document.querySelector("[data-door]");
    if (door) setup(door);
  });
})();
