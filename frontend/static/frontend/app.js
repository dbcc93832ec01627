/* Aperture pages: small progressive enhancements, no framework, no build step.
   - register / cancel buttons call the REST API with the session cookie and the CSRF token;
   - "Near me" asks the browser for its position and reloads the list sorted by distance;
   - session times get a "your time" line when the visitor is not in the venue's time zone.
   Texts go through Django's JavaScript catalogue (gettext, ngettext, interpolate: /jsi18n/). */
(function () {
  "use strict";

  var _ = window.gettext || function (text) { return text; };
  var fmt = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, name) { return values[name]; });
  };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* fetch() with JSON in and out; resolves to {ok, status, data} and never throws on HTTP errors. */
  function api(method, url, body) {
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
        return response
          .json()
          .catch(function () { return {}; })
          .then(function (data) { return { ok: response.ok, status: response.status, data: data }; });
      },
      function () {
        return { ok: false, status: 0, data: { detail: _("Network error: check your connection and try again.") } };
      }
    );
  }

  function errorText(result) {
    var data = result.data || {};
    if (result.status === 401 || result.status === 403) {
      if (data.code === "not_authenticated" || result.status === 401) return _("Please log in again.");
    }
    if (result.status === 429) return _("Too many attempts. Please wait a minute and try again.");
    var text = data.detail || fmt(_("Something went wrong (%(status)s)."), { status: result.status }, true);
    var fields = data.fields || {};
    Object.keys(fields).forEach(function (name) {
      var messages = fields[name];
      if (Array.isArray(messages) && messages.length && messages[0] !== text) text += " " + messages.join(" ");
    });
    return text;
  }

  function statusElement(node) {
    var scope = node.closest(".panel, .reg, .card-body, [data-feed]") || document;
    return scope.querySelector(".action-status");
  }

  function say(node, text, kind) {
    var status = statusElement(node);
    if (!status) return;
    status.textContent = text;
    status.className = "action-status " + (kind || "");
    status.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  function setBusy(button, busy) {
    button.disabled = busy;
    button.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function onRegister(event) {
    var form = event.target.closest('form[data-action="register"]');
    if (!form) return;
    event.preventDefault();
    var button = form.querySelector('button[type="submit"]');
    var input = form.querySelector('input[name="priority_code"]');
    var body = {};
    if (input && input.value.trim()) body.priority_code = input.value.trim();
    var party = form.querySelector('select[name="party_size"]');
    if (party) body.party_size = parseInt(party.value, 10);
    setBusy(button, true);
    say(form, _("Registering…"));
    api("POST", form.dataset.url, body).then(function (result) {
      if (result.ok) {
        var data = result.data;
        say(
          form,
          data.status === "confirmed"
            ? _("You're registered. ✓")
            : data.status === "entered"
              ? fmt(_("You entered the draw: reference %(ref)s."), { ref: data.entry_ref }, true)
              : fmt(_("You're on the waitlist, position %(position)s."), { position: data.waitlist_position }, true),
          "ok"
        );
        window.setTimeout(function () { window.location.reload(); }, 600);
      } else {
        setBusy(button, false);
        say(form, errorText(result), "error");
        if (result.data && result.data.code === "invalid_code" && input) {
          input.closest("details").open = true;
          input.setAttribute("aria-invalid", "true");
          input.focus();
        }
      }
    });
  }

  /* An offered seat: accept or decline in one click. */
  function onOffer(event) {
    var button = event.target.closest('button[data-action="offer"]');
    if (!button) return;
    setBusy(button, true);
    api("POST", button.dataset.url, {}).then(function (result) {
      if (result.ok) {
        say(button, result.data.status === "confirmed" ? _("You're registered. ✓") : _("Cancelled."), "ok");
        window.setTimeout(function () { window.location.reload(); }, 600);
      } else {
        setBusy(button, false);
        say(button, errorText(result), "error");
      }
    });
  }

  function onCancel(event) {
    var button = event.target.closest('button[data-action="cancel"]');
    if (!button) return;
    if (!window.confirm(button.dataset.confirm || _("Cancel this registration?"))) return;
    setBusy(button, true);
    say(button, _("Cancelling…"));
    api("DELETE", button.dataset.url).then(function (result) {
      if (result.ok) {
        say(button, _("Cancelled."), "ok");
        window.setTimeout(function () { window.location.reload(); }, 600);
      } else {
        setBusy(button, false);
        say(button, errorText(result), "error");
      }
    });
  }

  /* "Near me": the position is rounded to two decimals (about a kilometre) before it goes into the URL. */
  function setupNearMe() {
    var button = document.getElementById("near-me");
    if (!button) return;
    var form = button.form;
    var near = form.querySelector('input[name="near"]');
    var status = document.getElementById("near-status");
    button.addEventListener("click", function () {
      if (button.dataset.active === "true") {
        near.value = "";
        form.submit();
        return;
      }
      if (!("geolocation" in navigator)) {
        status.textContent = _("Your browser cannot share its location.");
        return;
      }
      status.textContent = _("Finding your location…");
      setBusy(button, true);
      navigator.geolocation.getCurrentPosition(
        function (position) {
          near.value = position.coords.latitude.toFixed(2) + "," + position.coords.longitude.toFixed(2);
          form.submit();
        },
        function (error) {
          setBusy(button, false);
          status.textContent =
            error.code === error.PERMISSION_DENIED
              ? _("Location permission was refused; pick a city instead.")
              : _("Your location is not available right now; pick a city instead.");
        },
        { maximumAge: 600000, timeout: 10000 }
      );
    });
  }

  /* Adds the visitor's own clock time when it differs from the venue's, written like the venue's time
     in the page's language: "12月3日 周四 19:00" / "Thu 3 Dec, 19:00" (project/formats.py). */
  var ZH_WEEKDAYS = { Mon: "周一", Tue: "周二", Wed: "周三", Thu: "周四", Fri: "周五", Sat: "周六", Sun: "周日" };
  var EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function clockParts(date, zone) {
    var format = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, month: "numeric", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    });
    var out = {};
    format.formatToParts(date).forEach(function (part) { out[part.type] = part.value; });
    return out;
  }

  function writtenTime(date, zone, chinese, withDay) {
    var p = clockParts(date, zone);
    var clock = p.hour + ":" + p.minute;
    if (!withDay) return clock;
    if (chinese) return Number(p.month) + "月" + Number(p.day) + "日 " + ZH_WEEKDAYS[p.weekday] + " " + clock;
    return p.weekday + " " + Number(p.day) + " " + EN_MONTHS[Number(p.month) - 1] + ", " + clock;
  }

  function setupLocalTimes() {
    if (!window.Intl) return;
    var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!mine) return;
    var chinese = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
    document.querySelectorAll("time.js-local-time[data-tz]").forEach(function (node) {
      var venueZone = node.dataset.tz;
      var start = new Date(node.getAttribute("datetime"));
      var line = node.parentElement.querySelector(".your-time");
      if (!line || isNaN(start) || !venueZone) return;
      if (writtenTime(start, mine, chinese, true) === writtenTime(start, venueZone, chinese, true)) return;
      var text = writtenTime(start, mine, chinese, true);
      var end = node.dataset.ends ? new Date(node.dataset.ends) : null;
      if (end && !isNaN(end)) {
        var sameDay = clockParts(end, mine).day === clockParts(start, mine).day;
        text += (sameDay ? "–" : " – ") + writtenTime(end, mine, chinese, !sameDay);
      }
      line.textContent = fmt(_("Your time: %(when)s (%(zone)s)"), { when: text, zone: mine }, true);
      line.hidden = false;
    });
  }

  /* My sessions: the private calendar subscription (GET issues it on first use, DELETE replaces it). */
  function setupFeed() {
    var section = document.querySelector("[data-feed]");
    if (!section) return;
    var box = section.querySelector("[data-feed-box]");
    var input = section.querySelector("[data-feed-url]");
    var webcal = section.querySelector("[data-feed-webcal]");
    var showButton = section.querySelector("[data-feed-show]");
    function show(result, message) {
      if (!result.ok) {
        say(showButton, errorText(result), "error");
        return;
      }
      input.value = result.data.url;
      webcal.href = result.data.webcal_url || result.data.url.replace(/^https?:/, "webcal:");
      box.hidden = false;
      showButton.hidden = true;
      say(showButton, message || "", "ok");
    }
    showButton.addEventListener("click", function () {
      setBusy(showButton, true);
      api("GET", section.dataset.url).then(function (result) {
        setBusy(showButton, false);
        show(result);
      });
    });
    section.querySelector("[data-feed-copy]").addEventListener("click", function () {
      input.select();
      var done = function () { say(showButton, _("Copied."), "ok"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
    var reset = section.querySelector("[data-feed-reset]");
    reset.addEventListener("click", function () {
      if (!window.confirm(reset.dataset.confirm)) return;
      setBusy(reset, true);
      api("DELETE", section.dataset.url).then(function (result) {
        setBusy(reset, false);
        show(result, _("A new link is ready; the old one no longer works."));
      });
    });
  }

  /* Session page: seats left, the waitlist and the fan's own place keep themselves current, so a rush
     is not a storm of reloads. The figures come from a shared copy at most a second old (with an
     ETag: unchanged answers are 304s), about once a second while the page is visible, never while
     it is hidden, less often after errors. A click's own answer stays the truth (it reloads). */
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var SEATS_EVERY_MS = 1000;

  function seatsHtml(data) {
    if (data.seats_left > 0) {
      return fmt(
        ngettext("<strong>%(left)s</strong> of %(capacity)s seat left", "<strong>%(left)s</strong> of %(capacity)s seats left", data.capacity),
        { left: data.seats_left, capacity: data.capacity }, true
      );
    }
    return fmt(ngettext("<strong>Full</strong> · %(capacity)s seat", "<strong>Full</strong> · %(capacity)s seats", data.capacity), { capacity: data.capacity }, true);
  }

  function showSeats(panel, data) {
    panel.querySelector(".seats-big").innerHTML = seatsHtml(data);
    var line = panel.querySelector(".waitlist-line");
    if ((data.waitlist_enabled && data.seats_left === 0) || data.waitlist_count) {
      if (!line) {
        line = document.createElement("p");
        line.className = "muted waitlist-line";
        panel.querySelector(".seats-big").after(line);
      }
      line.textContent = fmt(
        ngettext(
          "Waitlist: %(count)s waiting. If a seat frees up, the first on the waitlist gets it and is told by email.",
          "Waitlist: %(count)s waiting. If a seat frees up, the first on the waitlist gets it and is told by email.",
          data.waitlist_count
        ),
        { count: data.waitlist_count }, true
      );
    } else if (line) {
      line.remove();
    }
    var button = panel.querySelector('form[data-action="register"] button[type="submit"]');
    if (button && !button.disabled) button.textContent = data.seats_left > 0 ? _("Register") : _("Join the waitlist");
  }

  function checkOwnPlace(panel) {
    api("GET", panel.dataset.myRegistration).then(function (result) {
      if (!result.ok) return;
      if (result.data.status !== panel.dataset.myStatus) {
        window.location.reload();  /* promoted, offered or cancelled elsewhere: the page changes */
        return;
      }
      var tag = panel.querySelector(".my-reg .tag.wait");
      if (tag && result.data.waitlist_position) {
        tag.textContent = fmt(_("You're on the waitlist, #%(position)s"), { position: result.data.waitlist_position }, true);
      }
    });
  }

  function setupSeats() {
    var panel = document.querySelector(".panel[data-seats-url]");
    if (!panel || !window.fetch) return;
    var shown = panel.dataset.confirmed + "/" + panel.dataset.waiting;
    var delay = SEATS_EVERY_MS;
    var lastOwnCheck = 0;
    function poll() {
      if (document.hidden) {
        window.setTimeout(poll, delay);
        return;
      }
      fetch(panel.dataset.seatsUrl, { cache: "no-cache", credentials: "omit", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          delay = SEATS_EVERY_MS;
          if (data.status !== "published") {
            window.location.reload();
            return;
          }
          var now = data.confirmed_count + "/" + data.waitlist_count;
          if (now !== shown) {
            shown = now;
            showSeats(panel, data);
            if (panel.dataset.myStatus === "waitlisted" && Date.now() - lastOwnCheck > 5000) {
              lastOwnCheck = Date.now();
              checkOwnPlace(panel);
            }
          }
        })
        .catch(function () { delay = Math.min(delay * 2, 30000); })
        .then(function () { window.setTimeout(poll, delay * (0.9 + Math.random() * 0.2)); });
    }
    window.setTimeout(poll, delay);
  }

  document.addEventListener("submit", onRegister);
  document.addEventListener("click", onCancel);
  document.addEventListener("click", onOffer);
  document.addEventListener("DOMContentLoaded", function () {
    setupNearMe();
    setupLocalTimes();
    setupFeed();
    setupSeats();
  });
})();
