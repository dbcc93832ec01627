/* Session form (issue 12): the venue list follows the chosen city, and the zone beside each time
   field follows the chosen venue. Without this script every venue is listed and the zone shown is
   the one of the venue the page was made for. */
(function () {
  "use strict";

  function setup(form) {
    var city = form.querySelector('select[name="city"]');
    var venue = form.querySelector("[data-venue-select]");
    var labels = form.querySelectorAll("[data-zone-label]");
    if (!city || !venue) return;

    function filterVenues() {
      var chosen = city.value;
      Array.prototype.forEach.call(venue.querySelectorAll("optgroup"), function (group) {
        var show = !chosen || group.dataset.city === chosen;
        group.hidden = !show;
        group.disabled = !show;
      });
      var selected = venue.selectedOptions[0];
      if (selected && selected.parentElement.tagName === "OPTGROUP" && selected.parentElement.disabled) {
        venue.value = "";
      }
    }

    function showZone() {
      var selected = venue.selectedOptions[0];
      if (!selected || !selected.dataset.zone) return;
      Array.prototype.forEach.call(labels, function (label) { label.textContent = selected.dataset.zone; });
    }

    city.addEventListener("change", filterVenues);
    venue.addEventListener("change", showZone);
    filterVenues();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-session-form]");
    if (form) setup(form);
  });
})();
