// Moderation page: filters, in-place corrections (POST /feedback), CSV download, and the Inbox view
// (GET /inbox: the comments VK pushed). No external code; user text only ever reaches the page as text nodes.
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

  var marks = JSON.parse(document.getElementById("evidence-data").textContent);
  initViews();
  initInbox();
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
  // --- views: "Разбор" (the form and its results) and "Входящие" (#inbox) --------------------------
  function initViews() {
    function show() {
      var view = location.hash === "#inbox" ? "inbox" : "classify";
      document.querySelectorAll(".view").forEach(function (el) { el.hidden = el.id !== "view-" + view; });
      document.querySelectorAll(".tab").forEach(function (tab) {
        if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
        else tab.removeAttribute("aria-current");
      });
      if (view === "inbox") document.dispatchEvent(new Event("inbox:shown"));
    }
    window.addEventListener("hashchange", show);
    show();
  }

  // --- a comment's text as shown: VK mentions as names, evidence spans marked ---------------------
  // The same rule as service/routes/ui.py `segments`: "[id123|Марина]" shows as "Марина".
  function textSegments(text, evidence) {
    var mention = /\[(?:id|club|public)\d+\|((?:[^\[\]]|\[(?!(?:id|club|public)\d+\|))*)\]/gi;
    var hidden = [], marked = [], cuts = [0, text.length], m;
    var order = marks.precedence;
    function rank(flag) { var i = order.indexOf(flag); return i < 0 ? order.length : i; }
    while ((m = mention.exec(text)) !== null) {
      if (!m[1]) continue;  // "[id1|]" names nobody: left as written
      var nameStart = m.index + m[0].indexOf("|") + 1, nameEnd = nameStart + m[1].length;
      hidden.push([m.index, nameStart], [nameEnd, m.index + m[0].length]);
    }
    (evidence || []).forEach(function (e) {
      var a = Math.max(0, e.start), b = Math.min(text.length, e.end);
      if (a < b && e.flag) marked.push([a, b, e.flag]);
    });
    hidden.concat(marked).forEach(function (span) { cuts.push(span[0], span[1]); });
    cuts = cuts.filter(function (p) { return p >= 0 && p <= text.length; })
      .sort(function (a, b) { return a - b; });
    function covers(spans, p) { return spans.some(function (s) { return s[0] <= p && p < s[1]; }); }
    function flagAt(p) {  // overlapping spans: the flag first in the precedence, as on the server
      var best = null;
      marked.forEach(function (s) {
        if (s[0] <= p && p < s[1] && (best === null || rank(s[2]) < rank(best))) best = s[2];
      });
      return best;
    }
    var out = [];
    for (var i = 0; i + 1 < cuts.length; i++) {
      var a = cuts[i], b = cuts[i + 1];
      if (a >= b || covers(hidden, a)) continue;
      var flag = flagAt(a), last = out[out.length - 1];
      if (last && last.mark === flag) last.text += text.slice(a, b);
      else out.push({text: text.slice(a, b), mark: flag});
    }
    return out;
  }

  function renderText(node, text, evidence) {
    textSegments(text, evidence).forEach(function (seg) {
      if (seg.mark) {
        var mark = document.createElement("mark");
        mark.className = "ev ev-" + seg.mark;
        mark.title = marks.flag_names[seg.mark] || seg.mark;
        mark.textContent = seg.text;
        node.appendChild(mark);
      } else {
        node.appendChild(document.createTextNode(seg.text));
      }
    });
  }

  function cell(tr, cls, text) {
    var td = document.createElement("td");
    td.className = cls;
    if (text !== undefined) td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function chip(parent, cls, text) {
    var span = document.createElement("span");
    span.className = "chip " + cls;
    span.textContent = text;
    parent.appendChild(span);
  }

  // --- the Inbox view ---------------------------------------------------------------------------------
  function initInbox() {
    var form = document.getElementById("inbox-form");
    if (!form) return;
    var names = JSON.parse(document.getElementById("inbox-data").textContent);
    var body = document.querySelector("#inbox tbody");
    var errorBox = document.getElementById("inbox-error");
    var count = document.getElementById("inbox-count");
    var prev = document.getElementById("inbox-prev"), next = document.getElementById("inbox-next");
    var inboxKey = document.getElementById("inbox-key");
    var offset = 0, loadedOnce = false;
    var HIDE = {due: "будет скрыт в VK", pending: "скрываю в VK…", hidden: "скрыт в VK", failed: "не удалось скрыть в VK"};
    var STATUS = {pending: "ждёт классификации", failed: "ошибка классификации", empty: "без текста"};

    if (keyInput) {
      inboxKey.value = keyInput.value;
      inboxKey.addEventListener("change", function () { keyInput.value = inboxKey.value; });
      keyInput.addEventListener("change", function () { inboxKey.value = keyInput.value; });
    }

    function query() {
      var params = new URLSearchParams();
      ["category", "action", "topic", "urgent", "kind", "group_id", "limit"].forEach(function (name) {
        var value = form.elements[name].value.trim();
        if (value) params.set(name, value);
      });
      if (form.elements.date_from.value) params.set("date_from", form.elements.date_from.value + "T00:00:00Z");
      if (form.elements.date_to.value) {  // "по" includes the day: the API's bound is exclusive
        var end = new Date(form.elements.date_to.value + "T00:00:00Z");
        end.setUTCDate(end.getUTCDate() + 1);
        params.set("date_to", end.toISOString());
      }
      params.set("offset", String(offset));
      return params;
    }

    // One row of the inbox: every cell of a result is drawn here (and the text by renderText).
    function renderInboxRow(item) {
      var tr = document.createElement("tr");
      tr.className = "inbox-row" + (item.urgent ? " is-urgent" : "") + (item.deleted ? " is-deleted" : "");
      tr.dataset.id = item.id;
      tr.dataset.status = item.status;
      if (item.category) tr.dataset.category = item.category;
      cell(tr, "date", new Date(item.date).toLocaleString("ru-RU"));
      var text = cell(tr, "text");
      var shown = document.createElement("div");
      shown.className = "comment";
      renderText(shown, item.text, item.result && item.result.evidence);
      text.appendChild(shown);
      var meta = document.createElement("div");
      meta.className = "cid";
      meta.textContent = (names.kinds[item.kind] || item.kind) + " · сообщество " + item.group_id +
        " · комментарий " + item.comment_id +
        (item.version > 1 ? " · изменён" : "") + (item.deleted ? " · удалён" : "") + " ";
      if (item.url) {
        var link = document.createElement("a");
        link.href = item.url;
        link.textContent = "открыть в VK";
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        meta.appendChild(link);
      }
      text.appendChild(meta);
      var cat = cell(tr, "category");
      if (item.category) chip(cat, "cat-" + item.category, names.categories[item.category] || item.category);
      else cat.textContent = "—";
      cell(tr, "action" + (item.action ? " act-" + item.action : ""),
           item.action ? names.actions[item.action] || item.action : "—");
      cell(tr, "topic", item.topic ? names.topics[item.topic] || item.topic : "—");
      var urgent = cell(tr, "urgent");
      if (item.urgent) chip(urgent, "urgent-chip", "срочно");
      else urgent.textContent = item.urgent === false ? "нет" : "—";
      var state = cell(tr, "state", STATUS[item.status] || "");
      if (item.hide) {
        var hide = document.createElement("div");
        hide.className = "hide-" + item.hide.status;
        hide.textContent = HIDE[item.hide.status] || item.hide.status;
        state.appendChild(hide);
      }
      if (item.model_version) {
        var version = document.createElement("div");
        version.className = "cid";
        version.textContent = "модель " + item.model_version;
        state.appendChild(version);
      }
      return tr;
    }

    function load() {
      var headers = {};
      if (inboxKey.value.trim()) headers["X-API-Key"] = inboxKey.value.trim();
      errorBox.hidden = true;
      fetch("/inbox?" + query().toString(), {headers: headers})
        .then(function (resp) {
          return resp.json().catch(function () { return null; }).then(function (page) {
            if (!resp.ok) throw new Error(errorText(page, resp.status));
            return page;
          });
        })
        .then(function (page) {
          body.replaceChildren.apply(body, page.items.map(renderInboxRow));
          var first = page.total ? page.offset + 1 : 0, last = page.offset + page.items.length;
          count.textContent = page.total ? "Показано " + first + "–" + last + " из " + page.total
                                         : "Нет комментариев по этим фильтрам";
          prev.disabled = page.offset === 0;
          next.disabled = last >= page.total;
          loadedOnce = true;
        })
        .catch(function (err) {
          errorBox.textContent = "Не удалось загрузить входящие: " + err.message;
          errorBox.hidden = false;
        });
    }

    form.addEventListener("submit", function (ev) { ev.preventDefault(); offset = 0; load(); });
    prev.addEventListener("click", function () {
      offset = Math.max(0, offset - Number(form.elements.limit.value)); load();
    });
    next.addEventListener("click", function () { offset += Number(form.elements.limit.value); load(); });
    document.addEventListener("inbox:shown", function () { if (!loadedOnce) load(); });
    if (location.hash === "#inbox") load();
  }
})();
