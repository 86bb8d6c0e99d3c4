// Tells the server the browser's time zone, so that "today" is the user's
// day: a cookie for the pages, the log form's hidden tz field for the
// workout. Fills the form's date with the local day when the server could
// not (it does not invent one), and reloads the plan once when it was made
// for another zone.
(function () {
  "use strict";
  var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!tz) {
    return;
  }
  document.cookie = "tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; SameSite=Lax" +
    (location.protocol === "https:" ? "; Secure" : "");
  var field = document.getElementById("tz");
  if (field) {
    field.value = tz;
  }
  var date = document.getElementById("date");
  if (date && !date.value) {
    var d = new Date();
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    date.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }
  var body = document.body;
  if (body.hasAttribute("data-reload-for-tz") && body.getAttribute("data-tz") !== tz &&
      !sessionStorage.getItem("tz-reloaded")) {
    sessionStorage.setItem("tz-reloaded", "1");
    location.reload();
  }
})();
