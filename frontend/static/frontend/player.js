/* The stream page's player (frontend/player.py decides what it plays; the page's policy opens only
   its origins). One panel per stream status, switched by itself:
   - scheduled: the start in the venue's time (server-rendered) and a countdown in the page's language;
   - live: the HLS stream (native HLS where the browser has it, else the vendored hls.js), another
     platform's embed, or a link to it;
   - ended: the replay link when the stream has one (read from the API at the switch).
   The status arrives with the live figures (live.js dispatches "aperture:stream-status"). */
(function () {
  "use strict";

  var _ = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var fmt = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, name) { return values[name]; });
  };
  var HLS_TYPE = "application/vnd.apple.mpegurl";
  var RETRY_MIN_MS = 1000;
  var RETRY_MAX_MS = 15000;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* "2 days 03:04:05" / "2 天 03:04:05"; under a day just the clock. */
  function countdownText(ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(total / 86400);
    var clock = pad(Math.floor((total % 86400) / 3600)) + ":" + pad(Math.floor((total % 3600) / 60)) + ":" + pad(total % 60);
    var left = days > 0 ? fmt(ngettext("%(days)s day", "%(days)s days", days), { days: days }, true) + " " + clock : clock;
    return fmt(_("Starts in %(left)s"), { left: left }, true);
  }

  function Player(root) {
    this.root = root;
    this.kind = root.dataset.kind;
    this.status = root.dataset.status;
    this.video = root.querySelector("[data-video]");
    this.embed = root.querySelector("[data-embed]");
    this.note = root.querySelector("[data-player-note]");
    this.hls = null;
    this.retries = 0;
    this.retryTimer = null;
    this.countdownTimer = null;
  }

  Player.prototype.showPanel = function (status) {
    this.root.querySelectorAll("[data-panel]").forEach(function (panel) {
      if (panel.dataset.panel !== "denied") panel.hidden = panel.dataset.panel !== status;
    });
    this.root.dataset.status = status;
  };

  Player.prototype.setNote = function (text) {
    if (!this.note) return;
    this.note.textContent = text || "";
    this.note.hidden = !text;
  };

  Player.prototype.startCountdown = function () {
    var node = this.root.querySelector("[data-countdown]");
    var time = this.root.querySelector("[data-starts-at]");
    if (!node || !time) return;
    var startsAt = Date.parse(time.getAttribute("datetime"));
    if (isNaN(startsAt)) return;
    var tick = function () {
      var left = startsAt - Date.now();
      node.textContent = left > 0 ? countdownText(left) : _("Starting any moment now…");
    };
    tick();
    this.countdownTimer = window.setInterval(tick, 1000);
  };

  Player.prototype.stopCountdown = function () {
    window.clearInterval(this.countdownTimer);
    this.countdownTimer = null;
  };

  Player.prototype.play = function () {
    if (this.kind === "embed" && this.embed && !this.embed.getAttribute("src")) {
      this.embed.setAttribute("src", this.embed.dataset.embedSrc);
    }
    if (this.kind !== "hls" || !this.video) return;
    var video = this.video;
    var src = this.root.dataset.src;
    var self = this;
    video.autoplay = true;
    if (video.canPlayType(HLS_TYPE)) {
      video.src = src; // Safari, iOS and others with HLS of their own
      video.addEventListener("error", function () { self.retry(); }, { once: true });
    } else if (window.Hls && window.Hls.isSupported()) {
      var hls = new window.Hls({ liveDurationInfinity: true });
      this.hls = hls;
      hls.on(window.Hls.Events.ERROR, function (_event, data) {
        if (data && data.fatal) self.retry();
      });
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () { self.retries = 0; self.setNote(""); });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else {
      this.setNote(_("This browser cannot play the stream."));
      return;
    }
    var started = video.play();
    if (started && started.catch) started.catch(function () {}); // autoplay refused: the controls remain
  };

  /* The playlist may not be there yet in the first seconds of a stream: try again, backing off. */
  Player.prototype.retry = function () {
    if (this.retryTimer || this.status !== "live") return;
    this.teardown();
    var base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * Math.pow(2, this.retries));
    var delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.retries += 1;
    this.setNote(_("The stream could not be loaded; trying again…"));
    var self = this;
    this.retryTimer = window.setTimeout(function () { self.retryTimer = null; self.play(); }, delay);
  };

  Player.prototype.teardown = function () {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    if (this.video) {
      this.video.pause();
      this.video.removeAttribute("src");
      this.video.load();
    }
  };

  Player.prototype.stop = function () {
    window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.teardown();
    if (this.embed) this.embed.removeAttribute("src");
    this.setNote("");
  };

  Player.prototype.showReplay = function () {
    var box = this.root.querySelector("[data-replay]");
    var url = this.root.dataset.streamUrl;
    if (!box || !url) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (stream) {
        if (!stream || !stream.replay_url) return;
        box.querySelector("a").setAttribute("href", stream.replay_url);
        box.hidden = false;
      })
      .catch(function () {});
  };

  Player.prototype.setStatus = function (status) {
    if (status === this.status) return;
    this.status = status;
    this.showPanel(status);
    if (status === "live") {
      this.stopCountdown();
      this.play();
    } else if (status === "ended") {
      this.stopCountdown();
      this.stop();
      this.showReplay();
    }
  };

  Player.prototype.init = function () {
    if (this.status === "scheduled") this.startCountdown();
    if (this.status === "live") this.play();
    var self = this;
    document.addEventListener("aperture:stream-status", function (event) {
      if (event.detail && typeof event.detail.status === "string") self.setStatus(event.detail.status);
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-player]").forEach(function (root) {
      if (root.dataset.kind) new Player(root).init();
    });
  });
})();
