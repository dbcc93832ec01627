/* Live audience figures over the stream websockets (contract: /work/shared/API.md, "Live streams").
   The server pushes {"type": "viewers", concurrent, peak, total_views, at} (host channel: also
   unique_viewers and a per-platform breakdown) at most about once a second. This client:
   - sends {"type": "heartbeat"} every 20 s so that idle proxies keep the socket open;
   - reconnects after a drop with exponential backoff (1 s doubling to 30 s, with jitter);
   - stops on close code 4403 (not allowed) instead of hammering the server;
   - marks the figures stale while disconnected, or when the server says they are. */
(function () {
  "use strict";

  var HEARTBEAT_MS = 20000;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var CHART_POINTS = 180;

  var _ = window.gettext || function (text) { return text; };
  var fmt = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, name) { return values[name]; });
  };
  var pgettext = window.pgettext || function (_context, text) { return text; };
  var PAGE_LANG = document.documentElement.lang || undefined;
  var LIVE = pgettext("stream status", "Live");
  /* The socket's state, not the stream's: "Live" here once made a scheduled stream look started. */
  var CONNECTED = _("Connected");
  /* The stream statuses as the server names them (streams.models.Stream.Status), in the page's language. */
  var STATUS_NAMES = { scheduled: _("Scheduled"), live: LIVE, ended: _("Ended") };
  var OWN_PLATFORM = "web";

  /* Who this browser is (for unique viewers) travels in the signed cookie the page set; the socket
     authenticates with the session cookie. Nothing secret or chosen by the page goes in the URL. */

  function formatNumber(value) {
    return typeof value === "number" ? value.toLocaleString(PAGE_LANG) : String(value);
  }

  /* Accepts {"douyin": 120} or [{"platform": "douyin", "concurrent": 120}]. */
  function platformRows(platforms) {
    if (Array.isArray(platforms)) {
      return platforms.map(function (p) { return [p.platform || p.name, p.concurrent]; });
    }
    return Object.keys(platforms).map(function (name) {
      var value = platforms[name];
      return [name, typeof value === "object" && value !== null ? value.concurrent : value];
    }).sort(function (a, b) { return b[1] - a[1] || String(a[0]).localeCompare(String(b[0])); });
  }

  function LiveFigures(root) {
    this.root = root;
    this.path = root.dataset.wsPath;
    this.host = root.hasAttribute("data-host");
    this.conn = root.querySelector("[data-conn]");
    this.chart = root.querySelector("[data-chart] polyline");
    this.points = [];
    this.attempts = 0;
    this.socket = null;
    this.heartbeat = null;
    this.retry = null;
    this.stopped = false;
  }

  /* The server renders the saved figures as plain digits; show them like the live ones. */
  LiveFigures.prototype.formatInitial = function () {
    this.root.querySelectorAll("[data-field], [data-count]").forEach(function (node) {
      var text = node.textContent.trim();
      if (!/^\d+$/.test(text)) return;
      node.dataset.value = text;
      node.textContent = formatNumber(Number(text));
    });
  };

  LiveFigures.prototype.url = function () {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + this.path;
  };

  LiveFigures.prototype.setConn = function (text, state) {
    if (this.conn) this.conn.textContent = text;
    this.root.dataset.state = state;
  };

  LiveFigures.prototype.connect = function () {
    var self = this;
    window.clearTimeout(this.retry);
    this.retry = null;
    var socket;
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = function () {
      self.attempts = 0;
      self.setConn(CONNECTED, "live");
      self.heartbeat = window.setInterval(function () {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "heartbeat" }));
      }, HEARTBEAT_MS);
    };
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message && message.type === "viewers") self.show(message);
    };
    socket.onclose = function (event) {
      window.clearInterval(self.heartbeat);
      self.socket = null;
      if (event.code === 4403) {
        self.stopped = true;
        self.setConn(
          self.host
            ? _("Not allowed: this dashboard is for the stream's hosts and organizers.")
            : _("Not allowed: this stream is for the session's fans."),
          "denied"
        );
        return;
      }
      if (event.code === 4404) {
        self.stopped = true;
        self.setConn(_("This stream is not available."), "denied");
        return;
      }
      self.scheduleReconnect();
    };
  };

  LiveFigures.prototype.scheduleReconnect = function () {
    if (this.stopped || this.retry) return;
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, this.attempts));
    var delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempts += 1;
    this.setConn(
      fmt(_("Disconnected; the figures may be stale. Reconnecting in %(seconds)s s…"), { seconds: Math.ceil(delay / 1000) }, true),
      "stale"
    );
    var self = this;
    this.retry = window.setTimeout(function () { self.retry = null; self.connect(); }, delay);
  };

  LiveFigures.prototype.reconnectNow = function () {
    if (this.stopped || this.socket) return;
    this.attempts = 0;
    this.connect();
  };

  LiveFigures.prototype.show = function (message) {
    var root = this.root;
    ["concurrent", "peak", "total_views", "unique_viewers"].forEach(function (name) {
      if (message[name] === undefined) return;
      root.querySelectorAll('[data-field="' + name + '"]').forEach(function (node) {
        node.textContent = formatNumber(message[name]);
        node.dataset.value = message[name];
      });
    });
    if (message.at) {
      root.querySelectorAll('[data-field="at"]').forEach(function (node) {
        node.setAttribute("datetime", message.at);
        node.textContent = new Date(message.at).toLocaleTimeString(PAGE_LANG, { hourCycle: "h23" });
      });
    }
    if (typeof message.status === "string") {
      document.dispatchEvent(new CustomEvent("aperture:stream-status", { detail: { status: message.status } }));
      document.querySelectorAll("[data-stream-status]").forEach(function (badge) {
        if (badge.dataset.streamStatus === message.status) return;
        badge.dataset.streamStatus = message.status;
        badge.className = "badge stream-" + message.status;
        badge.textContent = STATUS_NAMES[message.status] || message.status;
      });
    }
    if (message.stale) this.setConn(_("The live count is stale: the server lost its connection to the counter."), "stale");
    else this.setConn(CONNECTED, "live");
    if (this.host) {
      var platforms = message.platforms || message.external;
      if (platforms) this.showPlatforms(platforms);
      this.addPoint(message.at, message.concurrent);
    }
  };

  LiveFigures.prototype.showPlatforms = function (platforms) {
    var body = this.root.querySelector("[data-platforms]");
    if (!body) return;
    var rows = platformRows(platforms);
    body.textContent = "";
    if (!rows.length) {
      var empty = body.insertRow();
      var cell = empty.insertCell();
      cell.colSpan = 2;
      cell.className = "muted";
      cell.textContent = _("Only this site so far.");
      return;
    }
    rows.forEach(function (row) {
      var tr = body.insertRow();
      tr.insertCell().textContent = row[0] === OWN_PLATFORM ? _("This site") : row[0];
      var count = tr.insertCell();
      count.className = "num";
      count.textContent = formatNumber(row[1]);
    });
  };

  LiveFigures.prototype.addPoint = function (at, concurrent) {
    if (!this.chart || typeof concurrent !== "number") return;
    this.points.push({ at: at ? Date.parse(at) : Date.now(), value: concurrent });
    if (this.points.length > CHART_POINTS) this.points.splice(0, this.points.length - CHART_POINTS);
    this.draw();
  };

  LiveFigures.prototype.draw = function () {
    var points = this.points;
    if (!points.length) return;
    var max = Math.max.apply(null, points.map(function (p) { return p.value; })) || 1;
    var first = points[0].at;
    var span = Math.max(points[points.length - 1].at - first, 1);
    this.chart.setAttribute(
      "points",
      points
        .map(function (p) {
          var x = points.length === 1 ? 600 : ((p.at - first) / span) * 600;
          var y = 115 - (p.value / max) * 105;
          return x.toFixed(1) + "," + y.toFixed(1);
        })
        .join(" ")
        .replace(/^(\S+),(\S+)$/, "0,$2 $1,$2") // one sample: a flat line up to now
    );
  };

  /* The dashboard starts from the saved timeline, so a reload does not blank the chart. */
  LiveFigures.prototype.loadTimeline = function () {
    var url = this.root.dataset.statsUrl;
    if (!url || !this.chart) return;
    var self = this;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (stats) {
        if (!stats || !Array.isArray(stats.timeline) || self.points.length) return;
        stats.timeline.slice(-CHART_POINTS).forEach(function (sample) {
          self.points.push({ at: Date.parse(sample.at), value: sample.concurrent });
        });
        self.draw();
      })
      .catch(function () {});
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(function (root) {
      var live = new LiveFigures(root);
      live.formatInitial();
      live.loadTimeline();
      live.connect();
      window.addEventListener("online", function () { live.reconnectNow(); });
    });
  });
})();
