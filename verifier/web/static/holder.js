/* 证印链 holder page: open the certificate file → see it verified → choose what to show and
 * why → a one-time code and its QR for the counter. Plain JavaScript, no framework, no
 * external resources. The file goes to the service only when the holder chooses it (to
 * verify it) and again when they ask for a code (the file is the credential). */
"use strict";

(function () {
  const TIMEOUT_MS = 60000;
  const VERDICTS = {
    valid: ["通过", "证照真实有效"],
    invalid: ["不通过", "证照未通过核验"],
    error: ["无法核验", "部分检查暂时无法完成"],
  };
  const AGAIN = "retry"; // the error's button repeats what failed
  const CHOOSE = "choose"; // the error's button opens the file picker
  const NEXT_STEP = {
    rate_limited: ["请稍后再试；已生成的出示码在有效期内仍可使用。", AGAIN, "重试"],
    certificate_revoked: ["请联系发证机关了解情况。", CHOOSE, "选择其他证照"],
    certificate_suspended: ["请联系发证机关，恢复后即可出示。", CHOOSE, "选择其他证照"],
    certificate_superseded: ["请使用换发后的新证照文件。", CHOOSE, "选择新证照文件"],
    holder_disclosed_copy: ["请选择发证机关发给您的完整证照文件。", CHOOSE, "重新选择文件"],
    holder_document_mismatch: ["请选择发证机关最新发给您的原始证照文件。", CHOOSE, "重新选择文件"],
    certificate_invalid: ["请选择发证机关发给您的原始证照文件（不要编辑或另存）。", CHOOSE, "重新选择文件"],
    holder_no_certificate: ["请选择带证照数据的 PDF、OFD 或证照 JSON 文件。", CHOOSE, "重新选择文件"],
    unsupported_file: ["请选择 PDF、OFD 或 JSON 格式的证照文件。", CHOOSE, "重新选择文件"],
    certificate_not_found: ["请到签发该证照的服务生成出示码。", CHOOSE, "重新选择文件"],
    not_anchored: ["证照刚签发，正在上链，请稍后重试。", AGAIN, "重试"],
    verification_unavailable: ["请稍后重试。", AGAIN, "重试"],
    body_too_large: ["文件过大，请选择发证机关发给您的原始证照文件。", CHOOSE, "重新选择文件"],
    network: ["请检查网络连接后重试。", AGAIN, "重试"],
    timeout: ["请检查网络连接后重试。", AGAIN, "重试"],
  };
  const FALLBACK_TEXT = {
    network: "无法连接核验服务",
    timeout: "核验服务响应超时",
    internal_error: "服务出现故障",
    bad_request: "请求内容有误",
    unknown_field: "所选信息不在这份证照中",
    purpose_required: "请填写用证事由",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    main: $("holder"),
    file: $("file"),
    fileName: $("file-name"),
    status: $("status"),
    error: $("error"),
    errorTitle: $("error-title"),
    errorMessage: $("error-message"),
    errorNext: $("error-next"),
    errorRetry: $("error-retry"),
    verified: $("verified"),
    banner: $("banner"),
    word: $("verdict-word"),
    summary: $("verdict-summary"),
    factType: $("fact-type"),
    factIssuer: $("fact-issuer"),
    factIdentifier: $("fact-identifier"),
    open: $("step-open"),
    choose: $("step-choose"),
    fields: $("fields"),
    purposeChoice: $("purpose-choice"),
    purpose: $("purpose"),
    ttl: $("ttl"),
    problem: $("choose-problem"),
    make: $("make"),
    codePanel: $("step-code"),
    code: $("code"),
    codeCertificate: $("code-certificate"),
    qr: $("qr"),
    expiry: $("expiry"),
    countdown: $("countdown"),
    shown: $("shown"),
    shownPurpose: $("shown-purpose"),
    again: $("again"),
    done: $("done"),
  };

  let file = null; // the certificate file the holder chose (kept only in this page)
  let opened = null; // the service's answer about it
  let busy = false;
  let seq = 0;
  let timer = null;
  let qrUrl = null;
  let retry = null;

  /* ---- talking to the service ---- */

  async function post(path, form) {
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, { method: "POST", body: form, signal: controller.signal,
                                     credentials: "omit", cache: "no-store" });
    } catch (e) {
      const code = e && e.name === "AbortError" ? "timeout" : "network";
      return { ok: false, status: 0, body: { error: code, message: String(e) } };
    } finally {
      clearTimeout(timeout);
    }
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (e) {
      body = null;
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      body = { error: "http_" + response.status, message: text.slice(0, 200) };
    }
    return { ok: response.ok, status: response.status, body: body,
             retryAfter: response.headers.get("Retry-After") };
  }

  /* ---- states ---- */

  function setState(state) {
    seq += 1;
    el.main.dataset.state = state;
    el.main.dataset.seq = String(seq);
  }

  function showOnly(parts) {
    for (const part of [el.open, el.status, el.error, el.verified, el.choose, el.codePanel]) {
      part.hidden = !parts.includes(part);
    }
  }

  function pending(text, state) {
    el.status.textContent = text;
    showOnly(state === "making" ? [el.verified, el.status] : [el.open, el.status]);
    setState(state);
  }

  function errorText(body) {
    if (body && typeof body.message_zh === "string" && body.message_zh) return body.message_zh;
    const code = body && body.error;
    return FALLBACK_TEXT[code] || "操作未能完成（" + (code || "未知错误") + "）";
  }

  function showError(body, retryAfter, withVerdict) {
    const code = (body && body.error) || "internal_error";
    const [next, action, button] = NEXT_STEP[code] || ["请稍后重试；如仍不行，请联系发证机关。", AGAIN, "重试"];
    el.errorTitle.textContent = code === "rate_limited" ? "操作过于频繁" : "无法生成出示码";
    // the service's Chinese message says what happened, then (after "：") what to do
    const text = errorText(body);
    const cut = text.indexOf("：");
    let nextText = cut > 0 ? text.slice(cut + 1) : next;
    if (code === "rate_limited" && cut <= 0 && retryAfter && /^\d+$/.test(retryAfter)) {
      nextText = "请 " + retryAfter + " 秒后再试";
    }
    el.errorMessage.textContent = (cut > 0 ? text.slice(0, cut) : text) + "。";
    el.errorNext.textContent = /[。！？]$/.test(nextText) ? nextText : nextText + "。";
    el.errorRetry.textContent = button;
    el.errorRetry.dataset.action = action;
    el.error.dataset.code = code;
    showOnly(withVerdict ? [el.verified, el.error] : [el.open, el.error]);
    setState("error");
    el.errorRetry.focus();
  }

  /* ---- step 1: open the file ---- */

  async function openFile(chosen) {
    if (!chosen || busy) return;
    busy = true;
    stopCountdown();
    file = chosen;
    opened = null;
    el.fileName.textContent = chosen.name;
    retry = () => openFile(chosen);
    pending("正在核验证照…", "opening");
    try {
      const form = new FormData();
      form.append("file", chosen, chosen.name);
      const answer = await post("/v1/holder/open", form);
      if (!answer.ok || typeof answer.body.verdict !== "string") {
        showError(answer.body, answer.retryAfter, false);
        return;
      }
      opened = answer.body;
      showVerdict(opened);
      if (!opened.presentable) {
        showError(opened.refusal || { error: "certificate_invalid" }, null, true);
        return;
      }
      showChoices(opened);
    } finally {
      busy = false;
      el.file.value = "";
    }
  }

  function showVerdict(answer) {
    const [word, summary] = VERDICTS[answer.verdict] || VERDICTS.error;
    el.banner.className = "banner " + answer.verdict;
    el.word.textContent = word;
    el.summary.textContent = summary;
    const values = {};
    for (const field of answer.fields || []) values[field.path] = field.value;
    const cert = answer.certificate || {};
    el.factType.textContent = values["type.name"] || cert["type.name"] || "—";
    el.factIssuer.textContent = values["issuer.name"] || cert["issuer.name"] || "—";
    el.factIdentifier.textContent = values.identifier || cert.identifier || "—";
  }

  function showChoices(answer) {
    el.fields.replaceChildren();
    let index = 0;
    for (const field of answer.fields) {
      index += 1;
      const item = document.createElement("li");
      item.className = field.always ? "field always" : "field";
      item.dataset.path = field.path;
      const box = document.createElement("input");
      box.type = "checkbox";
      box.id = "field-" + index;
      box.value = field.path;
      box.checked = field.always;
      box.disabled = field.always;
      const label = document.createElement("label");
      label.htmlFor = box.id;
      const name = document.createElement("span");
      name.className = "field-label";
      name.textContent = field.label;
      label.append(name);
      if (field.always) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = "必示";
        label.append(tag);
      }
      const value = document.createElement("span");
      value.className = "field-value";
      value.textContent = formatValue(field.value);
      label.append(value);
      item.append(box, label);
      el.fields.append(item);
    }
    el.problem.hidden = true;
    showOnly([el.verified, el.choose]);
    setState("opened");
  }

  function formatValue(value) {
    if (value === null || value === undefined) return "长期";
    if (Array.isArray(value)) return value.join("；") || "（无）";
    const text = String(value);
    const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (date) return Number(date[1]) + "年" + Number(date[2]) + "月" + Number(date[3]) + "日";
    return text || "（空）";
  }

  /* ---- step 2: choose and make the code ---- */

  function purposeText() {
    const choice = el.purposeChoice.value;
    return (choice === "other" ? el.purpose.value : choice).trim();
  }

  function chosenFields() {
    return Array.from(el.fields.querySelectorAll("input[type=checkbox]"))
      .filter((box) => box.checked && !box.disabled)
      .map((box) => box.value);
  }

  async function makeCode() {
    if (busy || !file || !opened) return;
    const purpose = purposeText();
    if (!purpose) {
      el.problem.textContent = "请选择或填写用证事由。";
      el.problem.hidden = false;
      (el.purposeChoice.value === "other" ? el.purpose : el.purposeChoice).focus();
      return;
    }
    busy = true;
    const fields = chosenFields();
    const ttl = el.ttl.value;
    retry = () => makeCode();
    pending("正在生成出示码…", "making");
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      form.append("purpose", purpose);
      for (const path of fields) form.append("fields", path);
      form.append("ttl_seconds", ttl);
      const answer = await post("/v1/holder/presentations", form);
      if (!answer.ok || typeof answer.body.code !== "string") {
        showError(answer.body, answer.retryAfter, true);
        return;
      }
      showCode(answer.body);
    } finally {
      busy = false;
    }
  }

  /* ---- step 3: the code ---- */

  function beijing(iso) {
    const at = new Date(iso);
    if (isNaN(at.getTime())) return "";
    const b = new Date(at.getTime() + 8 * 3600 * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return (b.getUTCMonth() + 1) + "月" + b.getUTCDate() + "日 " +
      pad(b.getUTCHours()) + ":" + pad(b.getUTCMinutes()) + ":" + pad(b.getUTCSeconds());
  }

  function showCode(made) {
    el.code.textContent = made.code;
    if (qrUrl) URL.revokeObjectURL(qrUrl);
    qrUrl = URL.createObjectURL(new Blob([made.qr_svg], { type: "image/svg+xml" }));
    el.qr.src = qrUrl;
    el.qr.classList.remove("expired");
    el.expiry.textContent = "有效至 北京时间 " + beijing(made.expires_at);
    el.codeCertificate.textContent = [opened && opened.certificate["type.name"],
                                      opened && opened.certificate["issuer.name"]]
      .filter(Boolean).join(" · ");
    el.shown.replaceChildren();
    for (const field of made.fields) {
      const item = document.createElement("li");
      item.textContent = field.label;
      item.dataset.path = field.path;
      el.shown.append(item);
    }
    el.shownPurpose.textContent = made.purpose;
    showOnly([el.codePanel]);
    el.codePanel.dataset.expired = "false";
    startCountdown(Date.now() + made.ttl_seconds * 1000);
    setState("code");
    window.scrollTo(0, 0);
  }

  function startCountdown(deadline) {
    stopCountdown();
    const tick = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      if (left <= 0) {
        el.countdown.textContent = "出示码已过期，请点“重新生成”。";
        el.countdown.classList.add("over");
        el.qr.classList.add("expired");
        el.codePanel.dataset.expired = "true";
        stopCountdown();
        return;
      }
      el.countdown.classList.remove("over");
      el.countdown.textContent = "剩余 " + Math.floor(left / 60) + " 分 " +
        String(left % 60).padStart(2, "0") + " 秒";
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  function stopCountdown() {
    if (timer !== null) clearInterval(timer);
    timer = null;
  }

  function finish() {
    stopCountdown();
    if (qrUrl) URL.revokeObjectURL(qrUrl);
    qrUrl = null;
    el.qr.removeAttribute("src");
    file = null;
    opened = null;
    retry = null;
    el.fileName.textContent = "";
    el.code.textContent = "";
    el.fields.replaceChildren();
    el.purposeChoice.value = "";
    el.purpose.value = "";
    el.purpose.hidden = true;
    showOnly([el.open]);
    setState("idle");
  }

  /* ---- wiring ---- */

  el.file.addEventListener("change", () => {
    if (el.file.files && el.file.files[0]) openFile(el.file.files[0]);
  });
  el.purposeChoice.addEventListener("change", () => {
    el.purpose.hidden = el.purposeChoice.value !== "other";
    if (!el.purpose.hidden) el.purpose.focus();
    el.problem.hidden = true;
  });
  el.choose.addEventListener("submit", (event) => {
    event.preventDefault();
    makeCode();
  });
  el.again.addEventListener("click", () => {
    if (opened) makeCode();
  });
  el.done.addEventListener("click", finish);
  el.errorRetry.addEventListener("click", () => {
    if (el.errorRetry.dataset.action === AGAIN && retry) {
      retry();
      return;
    }
    finish();
    el.file.click();
  });
  setState("idle");
})();
