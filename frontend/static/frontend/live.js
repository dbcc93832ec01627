/* Live audience figures over the stream websockets (contract: /work/shared/API.md, "Live streams").
   The server pushes {"type": "viewers", concurrent, peak, total_views, at} (host channel: also
   unique_viewers and a per-platform breakdown) at most about once a second. This client:
   - sends {"type": "heartbeat"} every 20 s so that idle proxies keep the socket open;
   - reconnects after a drop with exponential backoff and full jitter: the n-th retry waits a random
     time between 0.25 s and min(30 s, 3 s x 2^n), so the 10,000 viewers of a worker that restarts
     for a deploy come back spread over seconds instead of all in the same instant;
   - stops on close code 4403 (not allowed) instead of hammering the server;
   - marks the figures stale while disconnected, or when the server says they are. */
(function () {
  "use strict";

  var HEARTBEAT_MS = 20000;
  var BACKOFF_MIN_MS = 3000;
  var BACKOFF_FLOOR_MS = 250;
  var BACKOFF_MAX_MS = 30000;
  var CHART_POINTS = 720;
  var STATS_MS = 15000;
  var CHART_REDRAW_MS = 5000;

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
    this.chart = root.querySelector("[data-chart]");
    this.external = null;
    this.live = null;
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

  /* The wait before retry number ``attempt`` (0, 1, ...), for a ``random`` in [0, 1). */
  function backoffDelay(attempt, random) {
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
    return Math.round(BACKOFF_FLOOR_MS + random * (ceiling - BACKOFF_FLOOR_MS));
  }
  window.ApertureLive = { backoffDelay: backoffDelay };

  LiveFigures.prototype.scheduleReconnect = function () {
    if (this.stopped || this.retry) return;
    var delay = backoffDelay(this.attempts, Math.random());
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

  var METRIC_NAMES = {
    concurrent: _("Concurrent viewers"),
    views: _("Cumulative views"),
    popularity: _("Popularity score"),
  };

  /* One row per platform and metric: this site, then what the other platforms report. Concurrent
     figures come live over the socket; views and popularity (never added to ours) from the stats. */
  LiveFigures.prototype.showPlatforms = function (platforms) {
    if (platforms) this.live = platformRows(platforms);
    var body = this.root.querySelector("[data-platforms]");
    if (!body) return;
    var live = {};
    (this.live || []).forEach(function (row) { live[row[0]] = row[1]; });
    var rows = [[OWN_PLATFORM, "concurrent", live[OWN_PLATFORM] || 0]];
    var seen = {};
    (this.external || []).forEach(function (record) {
      var value = record.metric === "concurrent" && live[record.platform] !== undefined ? live[record.platform] : record.value;
      if (record.metric === "concurrent") seen[record.platform] = true;
      rows.push([record.platform, record.metric, value]);
    });
    Object.keys(live).forEach(function (name) {
      if (name !== OWN_PLATFORM && !seen[name]) rows.push([name, "concurrent", live[name]]);
    });
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = body.insertRow();
      tr.insertCell().textContent = row[0] === OWN_PLATFORM ? _("This site") : row[0];
      tr.insertCell().textContent = METRIC_NAMES[row[1]] || row[1];
      var count = tr.insertCell();
      count.className = "num";
      count.textContent = formatNumber(row[2]);
      tr.insertCell().textContent = row[1] === "concurrent" ? _("Yes") : _("No: not viewers now");
    });
  };

  LiveFigures.prototype.addPoint = function (at, concurrent) {
    if (!this.chart || typeof concurrent !== "number") return;
    this.points.push({ at: at ? Date.parse(at) : Date.now(), value: concurrent });
    if (this.points.length > CHART_POINTS) this.points.splice(0, this.points.length - CHART_POINTS);
    this.draw();
  };

  var SVG = "http://www.w3.org/2000/svg";

  function svgNode(parent, name, attributes, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  /* Seconds on the time axis only when the chart spans a few minutes. */
  function clockOptions(span, zone) {
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (span < 5 * 60000) options.second = "2-digit";
    if (zone) options.timeZone = zone;
    return options;
  }

  /* 1, 2, 5 x 10^k at or above the value: round count labels. */
  function niceCeiling(value) {
    if (value <= 4) return 4;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i += 1) {
      if (steps[i] * power >= value) return steps[i] * power;
    }
    return 10 * power;
  }

  /* Time and count axes drawn at the chart's real size (so labels stay readable on a phone);
     times in the venue's zone, numbers in the page's language. */
  LiveFigures.prototype.draw = function () {
    var svg = this.chart;
    if (!svg) return;
    var points = this.points;
    var width = Math.max(svg.clientWidth || 600, 240);
    var height = width < 480 ? 180 : 220;
    var left = 48;
    var right = 12;
    var top = 12;
    var bottom = 40;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("height", String(height));
    svg.textContent = "";
    var plotW = width - left - right;
    var plotH = height - top - bottom;
    var max = niceCeiling(Math.max.apply(null, points.map(function (p) { return p.value; }).concat([1])));
    var now = Date.now();
    var first = points.length ? Math.min(points[0].at, now - 60000) : now - 60000;
    var last = Math.max(now, points.length ? points[points.length - 1].at : now);
    var span = Math.max(last - first, 1);
    var axis = svgNode(svg, "g", { class: "axis" });
    for (var i = 0; i <= 4; i += 1) {
      var value = (max / 4) * i;
      var y = top + plotH - (value / max) * plotH;
      svgNode(axis, "line", { x1: left, x2: left + plotW, y1: y, y2: y, class: i ? "grid" : "baseline" });
      svgNode(axis, "text", { x: left - 6, y: y + 4, "text-anchor": "end" }, formatNumber(Math.round(value)));
    }
    var ticks = width < 480 ? 3 : 5;
    var zone = this.root.dataset.tz || undefined;
    var clock;
    try {
      clock = new Intl.DateTimeFormat(PAGE_LANG, clockOptions(span, zone));
    } catch (error) {
      clock = new Intl.DateTimeFormat(PAGE_LANG, clockOptions(span));
    }
    for (var t = 0; t <= ticks; t += 1) {
      var x = left + (plotW * t) / ticks;
      svgNode(axis, "line", { x1: x, x2: x, y1: top + plotH, y2: top + plotH + 4, class: "baseline" });
      var anchor = t === 0 ? "start" : t === ticks ? "end" : "middle";
      svgNode(axis, "text", { x: x, y: top + plotH + 16, "text-anchor": anchor }, clock.format(new Date(first + (span * t) / ticks)));
    }
    svgNode(axis, "text", { x: left + plotW / 2, y: height - 4, "text-anchor": "middle", class: "axis-title" }, svg.dataset.xTitle || "");
    svgNode(axis, "text", { x: 12, y: top + plotH / 2, "text-anchor": "middle", class: "axis-title",
      transform: "rotate(-90 12 " + (top + plotH / 2) + ")" }, svg.dataset.yTitle || "");
    if (!points.length) return;
    var coords = points.map(function (p) {
      var px = left + ((p.at - first) / span) * plotW;
      var py = top + plotH - (p.value / max) * plotH;
      return px.toFixed(1) + "," + py.toFixed(1);
    });
    // Figures are pushed when they change: the last one holds until now.
    coords.push((left + plotW).toFixed(1) + "," + coords[coords.length - 1].split(",")[1]);
    svgNode(svg, "polyline", { points: coords.join(" "), class: "series" });
  };

  /* The dashboard starts from the saved timeline (a reload does not blank the chart) and refreshes
     what the socket does not carry every STATS_MS: registrations, check-ins, other platforms' figures. */
  LiveFigures.prototype.loadStats = function (first) {
    var url = this.root.dataset.statsUrl;
    if (!url) return;
    var self = this;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (stats) {
        if (!stats) return;
        ["registered", "checked_in"].forEach(function (name) {
          if (typeof stats[name] !== "number") return;
          self.root.querySelectorAll('[data-field="' + name + '"]').forEach(function (node) {
            node.textContent = formatNumber(stats[name]);
            node.dataset.value = stats[name];
          });
        });
        if (Array.isArray(stats.external)) {
          if (!self.live && stats.platforms) self.live = platformRows(stats.platforms);
          self.external = stats.external;
          self.showPlatforms(null);
        }
        if (first && self.chart && Array.isArray(stats.timeline) && !self.points.length) {
          stats.timeline.slice(-CHART_POINTS).forEach(function (sample) {
            self.points.push({ at: Date.parse(sample.at), value: sample.concurrent });
          });
          self.draw();
        }
      })
      .catch(function () {});
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(function (root) {
      var live = new LiveFigures(root);
      live.formatInitial();
      if (live.host) {
        live.draw();
        live.loadStats(true);
        window.setInterval(function () { live.loadStats(false); }, STATS_MS);
        window.addEventListener("resize", function () { live.draw(); });
        window.setInterval(function () { live.draw(); }, CHART_REDRAW_MS); // the time axis moves on
      }
      live.connect();
      window.addEventListener("online", function () { live.reconnectNow(); });
    });
  });
})();
