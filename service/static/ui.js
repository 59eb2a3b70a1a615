// Moderation page: filters, in-place corrections (POST /feedback) and CSV download. No external code.
(function () {
  "use strict";

  var moderatorInput = document.getElementById("moderator");
  var keyInput = document.getElementById("api-key");
  if (moderatorInput) {
    moderatorInput.value = localStorage.getItem("triage.moderator") || "";
    moderatorInput.addEventListener("change", function () {
      localStorage.setItem("triage.moderator", moderatorInput.value.trim());
    });
  }

  var fileInput = document.getElementById("file");
  if (fileInput) {
    fileInput.addEventListener("change", function () {
      document.getElementById("file-name").textContent =
        fileInput.files.length ? fileInput.files[0].name : "файл не выбран";
    });
  }

  var dataNode = document.getElementById("results-data");
  if (!dataNode) return;
  var results = JSON.parse(dataNode.textContent);
  var page = JSON.parse(document.getElementById("taxonomy-data").textContent);
  var tax = page.label_rules;  // the server's rules (GET /labels serves the same), never a copy of our own
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.result-row"));

  // --- filters ---------------------------------------------------------------------------------
  var catSel = document.getElementById("filter-category");
  var actSel = document.getElementById("filter-action");
  var shown = document.getElementById("shown-count");

  function applyFilters() {
    var n = 0;
    rows.forEach(function (tr) {
      var ok = (!catSel.value || tr.dataset.category === catSel.value) &&
               (!actSel.value || tr.dataset.action === actSel.value);
      tr.hidden = !ok;
      var ed = tr.nextElementSibling;
      if (ed && ed.classList.contains("editor-row")) ed.hidden = !ok;
      if (ok) n += 1;
    });
    shown.textContent = "Показано: " + n + " из " + rows.length;
  }
  catSel.addEventListener("change", applyFilters);
  actSel.addEventListener("change", applyFilters);
  applyFilters();

  // --- corrections -----------------------------------------------------------------------------
  var tpl = document.getElementById("editor-template");

  function ruleApplies(form, rule) {
    return form.elements[rule.when].checked === rule.value;
  }

  function syncTopic(form) {
    // A rule that says the topic must be empty disables the topic field while it applies.
    var empty = tax.topic_rules.some(function (rule) { return rule.topic === "empty" && ruleApplies(form, rule); });
    form.elements[tax.topic_key].disabled = empty;
    if (empty) form.elements[tax.topic_key].value = "";
  }

  function brokenRules(form) {
    var hasTopic = !!form.elements[tax.topic_key].value;
    return tax.topic_rules.filter(function (rule) {
      return ruleApplies(form, rule) && (rule.topic === "empty" ? hasTopic : !hasTopic);
    });
  }

  function openEditor(tr) {
    var next = tr.nextElementSibling;
    if (next && next.classList.contains("editor-row")) { next.remove(); return; }
    var r = results[Number(tr.dataset.index)];
    var frag = tpl.content.cloneNode(true);
    var form = frag.querySelector("form");
    tax.flags.forEach(function (f) { form.elements[f].checked = !!r.flags[f]; });
    form.elements.topic.value = r.topic || "";
    form.elements[tax.urgent].checked = !!r.urgent;
    syncTopic(form);
    tax.topic_rules.forEach(function (rule) {
      form.elements[rule.when].addEventListener("change", function () { syncTopic(form); });
    });
    form.querySelector(".cancel-btn").addEventListener("click", function () {
      form.closest("tr").remove();
    });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); save(tr, form, r); });
    tr.after(frag);
  }

  function errorText(body, status) {
    if (body && body.details && body.details.length) {
      return body.details.map(function (d) { return d.field + ": " + d.message; }).join("; ");
    }
    if (body && body.error) return body.error;
    if (body && body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return "HTTP " + status;
  }

  function save(tr, form, r) {
    var status = form.querySelector(".editor-status");
    var rowStatus = tr.querySelector(".status");
    var moderator = moderatorInput.value.trim();
    if (!moderator) {
      status.textContent = "Укажите имя модератора вверху страницы.";
      status.className = "editor-status failed";
      moderatorInput.focus();
      return;
    }
    var broken = brokenRules(form);
    if (broken.length) {
      status.textContent = broken.map(function (rule) { return rule.message; }).join("; ");
      status.className = "editor-status failed";
      return;
    }
    localStorage.setItem("triage.moderator", moderator);
    var payload = {id: r.id, text: r.text, moderator: moderator,
                   topic: form.elements.topic.value || null};
    tax.flags.forEach(function (f) { payload[f] = form.elements[f].checked; });
    payload[tax.urgent] = form.elements[tax.urgent].checked;
    var headers = {"Content-Type": "application/json"};
    if (keyInput && keyInput.value.trim()) headers["X-API-Key"] = keyInput.value.trim();
    status.textContent = "Сохраняю…";
    status.className = "editor-status";
    fetch("/feedback", {method: "POST", headers: headers, body: JSON.stringify(payload)})
      .then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (body) {
          if (!resp.ok) throw new Error(errorText(body, resp.status));
          return body;
        });
      })
      .then(function (body) {
        var msg = body && body.changed === false ? "Без изменений" : "Сохранено";
        status.textContent = msg;
        status.className = "editor-status saved";
        rowStatus.textContent = msg + " (" + moderator + ")";
        rowStatus.className = "status saved";
        tr.classList.add("corrected");
        r.corrected = payload;
      })
      .catch(function (err) {
        status.textContent = "Ошибка: " + err.message;
        status.className = "editor-status failed";
        rowStatus.textContent = "Не сохранено";
        rowStatus.className = "status failed";
      });
  }

  rows.forEach(function (tr) {
    tr.querySelector(".edit-btn").addEventListener("click", function () { openEditor(tr); });
  });

  // --- CSV download (from the rendered data, corrections included) -----------------------------
  function csvCell(v) {
    var s = v === null || v === undefined ? "" : String(v);
    // Cells starting with = + - @ would run as formulas in spreadsheets.
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\n\r;]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  document.getElementById("download").addEventListener("click", function () {
    var cols = page.result_columns;
    var head = ["id", "text"].concat(cols, ["topic_name", "corrected_by"],
      tax.flags.map(function (f) { return "corrected_" + f; }), ["corrected_topic", "corrected_" + tax.urgent]);
    var lines = [head.map(csvCell).join(",")];
    results.forEach(function (r) {
      var c = r.corrected;
      var cells = [r.id, r.text].concat(cols.map(function (k) { return r.row[k]; }), [r.topic_ru || "",
                   c ? c.moderator : ""])
        .concat(tax.flags.map(function (f) { return c ? (c[f] ? 1 : 0) : ""; }))
        .concat([c ? (c.topic || "") : "", c ? (c[tax.urgent] ? 1 : 0) : ""]);
      lines.push(cells.map(csvCell).join(","));
    });
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], {type: "text/csv;charset=utf-8"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "comments-triage.csv";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  });
})();
