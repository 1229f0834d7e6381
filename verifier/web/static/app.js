/* 证印链 counter page: scan / paste / code / file → POST to the API → a verdict.
 * Plain JavaScript, no framework, no external resources (the page must work offline). */
"use strict";

(function () {
  const KEY_STORAGE = "zhengyin.counterApiKey";
  const TIMEOUT_MS = 60000;

  const CHECK_LABELS = {
    "certificate.format": "格式",
    "certificate.integrity": "完整性",
    "certificate.signature": "发证机关签名",
    "certificate.merkle_proof": "批次证明",
    "certificate.validity": "有效期",
    "chain.anchored": "链上存证",
    "issuer.authorized": "发证授权",
    "issuer.key": "签名密钥",
    "certificate.status": "证照状态",
    "qr.format": "二维码格式",
    "file.resources": "核验资源限制",
    "ofd.structure": "OFD 结构",
    "ofd.signatures": "OFD 签章",
    "ofd.files": "OFD 文件完整性",
    "ofd.signature": "签名描述文件",
    "ofd.references": "受保护文件摘要",
    "ofd.seal_file": "印章文件",
    "ofd.stamp": "签章位置",
    "ofd.modifications": "签章后修改",
  };
  const GROUP_LABELS = { seal: "印章", signature: "签章", pdf: "PDF", ofd: "OFD" };
  const PART_LABELS = {
    structure: "结构",
    version: "版本",
    format: "格式",
    validity: "有效期",
    maker_certificate: "制章者证书",
    maker_signature: "制章者签名",
    maker_path: "制章者证书链",
    data_hash: "数据摘要",
    signer_certificate: "签章人证书",
    signer_in_seal: "签章人与印章",
    signer_path: "签章人证书链",
    timestamp: "时间戳",
    value: "签名值",
    digest: "文档摘要",
    byte_range: "签名范围",
    modifications: "签章后修改",
    signatures: "签章",
    anchored: "链上存证",
  };
  const STATUS_LABELS = {
    VALID: ["✓ 通过", "ok"],
    INVALID: ["✗ 不通过", "bad"],
    ERROR: ["! 无法核验", "warn"],
    SKIPPED: ["– 未检查", "skip"],
  };
  const VERDICTS = {
    valid: ["通过", "证照真实有效。"],
    invalid: ["不通过", "证照未通过核验，请勿受理。"],
    error: ["无法核验", "部分检查未能完成（链或服务暂不可用），请稍后重试。"],
  };
  const FACT_LABELS = [
    ["identifier", "证照标识"],
    ["name", "证照名称"],
    ["type.name", "证照类型"],
    ["type.code", "证照类型代码"],
    ["number", "证照编号"],
    ["holder.name", "持证人"],
    ["holder.code", "持证人证件号码"],
    ["issuer.name", "发证机关"],
    ["issuer.code", "发证机关代码"],
    ["issue_date", "发证日期"],
    ["valid_from", "有效期起"],
    ["valid_until", "有效期至"],
    ["jurisdiction", "行政区划"],
    ["purpose", "用证事由"],
    ["kind", "文件类型"],
    ["size", "文件大小（字节）"],
    ["revisions", "修订次数"],
    ["document_sm3", "文档 SM3 摘要"],
  ];
  const ERROR_TEXT = {
    api_key_missing: "未填写窗口 API 密钥",
    api_key_invalid: "API 密钥无效或已吊销",
    wrong_role: "此 API 密钥无权进行该操作",
    forbidden: "此 API 密钥无权进行该操作",
    body_too_large: "内容过大，超过服务允许的上限",
    bad_request: "请求内容有误",
    unsupported_file: "不支持的文件类型",
    file_missing: "没有收到文件",
    presentation_used: "出示码已使用过",
    presentation_expired: "出示码已过期",
    presentation_unknown: "出示码不存在",
    not_found: "未找到",
    chain_unavailable: "区块链暂不可用",
    internal_error: "服务内部错误",
    network: "无法连接核验服务",
    timeout: "核验服务响应超时",
    not_json: "粘贴的内容不是有效的 JSON",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    key: $("api-key"),
    keyToggle: $("key-toggle"),
    keyState: $("key-state"),
    keyForm: $("key-form"),
    scanForm: $("scan-form"),
    scan: $("scan"),
    codeForm: $("code-form"),
    code: $("code"),
    drop: $("drop"),
    file: $("file"),
    fileName: $("file-name"),
    result: $("result"),
    banner: $("banner"),
    word: $("verdict-word"),
    summary: $("verdict-summary"),
    details: $("details"),
    facts: $("facts"),
    chain: $("chain"),
    checks: document.querySelector("#checks tbody"),
    camStart: $("camera-start"),
    camStop: $("camera-stop"),
    camNote: $("camera-note"),
    video: $("camera-video"),
  };
  let busy = false;
  let seq = 0;

  /* ---- API key ---- */

  function storedKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch (e) {
      return "";
    }
  }

  function saveKey() {
    const value = el.key.value.trim();
    try {
      if (value) localStorage.setItem(KEY_STORAGE, value);
      else localStorage.removeItem(KEY_STORAGE);
    } catch (e) {
      /* private mode: the key lives only in the field */
    }
    showKeyState();
  }

  function showKeyState() {
    const value = el.key.value.trim();
    el.keyState.textContent = value ? "已保存（尾号 " + value.slice(-4) + "）" : "未设置";
    el.keyState.className = "key-state " + (value ? "set" : "unset");
  }

  el.key.value = storedKey();
  showKeyState();
  el.key.addEventListener("input", saveKey);
  el.key.addEventListener("change", saveKey);
  el.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    saveKey();
    el.scan.focus();
  });
  el.keyToggle.addEventListener("click", () => {
    const show = el.key.type === "password";
    el.key.type = show ? "text" : "password";
    el.keyToggle.textContent = show ? "隐藏" : "显示";
    el.keyToggle.setAttribute("aria-pressed", String(show));
  });

  /* ---- talking to the API ---- */

  async function call(path, init) {
    const headers = Object.assign({ Accept: "application/json" }, init.headers || {});
    const key = el.key.value.trim();
    if (key) headers.Authorization = "Bearer " + key;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        body: init.body,
        headers: headers,
        signal: controller.signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      const code = e && e.name === "AbortError" ? "timeout" : "network";
      return { ok: false, status: 0, body: { error: code, message: String((e && e.message) || e) } };
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    const text = await response.text().catch(() => "");
    try {
      body = JSON.parse(text);
    } catch (e) {
      body = null;
    }
    if (response.ok && body && typeof body.verdict === "string") {
      return { ok: true, status: response.status, body: body };
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      body = { error: "http_" + response.status, message: text.slice(0, 300) || response.statusText };
    }
    return { ok: false, status: response.status, body: body };
  }

  async function run(label, path, init) {
    if (busy) return;
    busy = true;
    stopCamera();
    showPending(label);
    try {
      const outcome = await call(path, init);
      if (outcome.ok) showVerdict(outcome.body);
      else showError(outcome.status, outcome.body);
    } catch (e) {
      showError(0, { error: "internal_error", message: String(e) });
    } finally {
      busy = false;
    }
  }

  function verifyText(raw) {
    const text = raw.trim();
    if (!text) {
      el.scan.focus();
      return;
    }
    el.fileName.textContent = "";
    let body;
    if (text.startsWith("{")) {
      let document;
      try {
        document = JSON.parse(text);
      } catch (e) {
        showError(0, { error: "not_json", message: String(e.message || e) });
        return;
      }
      body = { certificate: document };
    } else {
      body = { qr: text };
    }
    run("正在核验…", "/v1/verify", {
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    }).then(() => {
      if (keyProblem()) return; // showError put the focus on the key field
      el.scan.focus();
      el.scan.select(); // the next scan replaces this one
    });
  }

  function redeem(raw) {
    const code = raw.trim();
    if (!code) {
      el.code.focus();
      return;
    }
    el.fileName.textContent = "";
    run("正在查验出示码…", "/v1/presentations/redeem", {
      body: JSON.stringify({ code: code }),
      headers: { "Content-Type": "application/json" },
    }).then(() => {
      if (!keyProblem()) el.code.select();
    });
  }

  function verifyFile(file) {
    if (!file) return;
    el.fileName.textContent = file.name + "（" + file.size.toLocaleString("zh-CN") + " 字节）";
    const form = new FormData();
    form.append("file", file, file.name);
    run("正在核验文件…", "/v1/verify", { body: form }).then(() => {
      el.file.value = "";
      if (!keyProblem()) el.scan.focus();
    });
  }

  /* ---- showing results ---- */

  function setState(state, word, summary) {
    seq += 1;
    el.result.dataset.state = state;
    el.result.dataset.seq = String(seq);
    el.banner.className = "banner " + state;
    el.word.textContent = word;
    el.summary.textContent = summary;
  }

  function clearDetails() {
    delete el.result.dataset.error;
    el.details.hidden = true;
    el.facts.replaceChildren();
    el.checks.replaceChildren();
    el.chain.textContent = "";
  }

  function showPending(label) {
    clearDetails();
    setState("pending", "核验中", label);
  }

  function showIdle() {
    clearDetails();
    setState("idle", "待核验", "请扫码、输入出示码或选择文件。");
  }

  function showError(status, body) {
    clearDetails();
    const code = String(body.error || "error");
    const known = ERROR_TEXT[code] || (status >= 500 ? "服务暂不可用" : "请求未被受理");
    const parts = [known + (status ? "（HTTP " + status + "）" : "")];
    if (body.message) parts.push(String(body.message));
    parts.push("错误代码：" + code);
    setState("error", "无法核验", parts.join(" · "));
    el.result.dataset.error = code;
    if (keyProblem()) el.key.focus();
    reveal();
  }

  function keyProblem() {
    const code = el.result.dataset.error;
    return code === "api_key_missing" || code === "api_key_invalid";
  }

  function checkLabel(name) {
    if (CHECK_LABELS[name]) return CHECK_LABELS[name];
    const dot = name.indexOf(".");
    if (dot > 0) {
      const group = GROUP_LABELS[name.slice(0, dot)];
      const part = PART_LABELS[name.slice(dot + 1)];
      if (group) return group + (part || name.slice(dot + 1));
    }
    return name;
  }

  function formatValue(key, value) {
    if (value === null || value === undefined || value === "") {
      return key === "valid_until" ? "长期有效" : "—";
    }
    if (Array.isArray(value)) {
      if (!value.length) return "无";
      return value
        .map((v) => (v && typeof v === "object" ? v.seal || v.signer || v.field || JSON.stringify(v) : String(v)))
        .join("、");
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function formatHidden(hidden) {
    if (Array.isArray(hidden) && hidden.some((h) => String(h).startsWith("all other fields"))) {
      return "其余全部（二维码只含证照标识、类型、发证机关、行政区划和有效期；持证人信息等请查看证照文件或出示码）";
    }
    return formatValue("hidden", hidden);
  }

  function addFact(label, value, cls) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (cls) dd.className = cls;
    el.facts.append(dt, dd);
  }

  /* the Chinese reason when the service gives one, otherwise the English one */
  function reasonOf(check) {
    const zh = typeof check.reason_zh === "string" ? check.reason_zh.trim() : "";
    return zh || String(check.reason || "");
  }

  function showVerdict(body) {
    const verdict = VERDICTS[body.verdict] ? body.verdict : "error";
    const [word, fallback] = VERDICTS[verdict];
    const checks = Array.isArray(body.checks) ? body.checks : [];
    let summary = fallback;
    const subject = body.certificate || {};
    if (verdict === "valid" && !("identifier" in subject)) {
      // a sealed file or a seal, not a certificate: say what was found true
      summary = subject.kind === "pdf" || subject.kind === "ofd" ? "文件上的电子签章真实有效，盖章后未被改动。" : "电子印章（签章）真实有效。";
    }
    if (verdict !== "valid") {
      const first = checks.find((c) => c.status === (verdict === "invalid" ? "INVALID" : "ERROR"));
      if (first) summary = checkLabel(first.name) + "：" + reasonOf(first);
    }
    clearDetails();
    setState(verdict, word, summary);

    const cert = Object.assign({}, body.certificate || {});
    if (body.purpose) cert.purpose = body.purpose;
    const shown = new Set(["hidden", "chain"]);
    for (const [key, label] of FACT_LABELS) {
      if (key in cert) {
        addFact(label, formatValue(key, cert[key]), key === "identifier" ? "mono" : "");
        shown.add(key);
      }
    }
    for (const key of Object.keys(cert)) {
      if (!shown.has(key)) addFact(key.replace(/^fields\./, ""), formatValue(key, cert[key]));
    }
    if ("hidden" in cert) addFact("未披露字段", formatHidden(cert.hidden));
    if (!el.facts.children.length) addFact("证照", "（无可显示的信息）");

    const chain = body.chain || {};
    const bits = [];
    if (chain.block !== null && chain.block !== undefined) bits.push("链上区块 #" + chain.block);
    if (chain.checked_at) {
      const when = new Date(chain.checked_at);
      bits.push("核验时间 " + (isNaN(when) ? chain.checked_at : when.toLocaleString("zh-CN")));
    }
    el.chain.textContent = bits.join(" · ");

    for (const check of checks) {
      const row = document.createElement("tr");
      row.dataset.name = check.name;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = checkLabel(check.name);
      const code = document.createElement("code");
      code.textContent = check.name;
      name.append(document.createElement("br"), code);
      const [label, cls] = STATUS_LABELS[check.status] || [check.status, "skip"];
      const status = document.createElement("td");
      status.className = "status " + cls;
      status.textContent = label;
      const reason = document.createElement("td");
      reason.className = "reason";
      reason.textContent = reasonOf(check);
      if (reason.textContent !== check.reason && check.reason) reason.title = String(check.reason);
      row.append(name, status, reason);
      el.checks.append(row);
    }
    el.details.hidden = false;
    reveal();
  }

  function reveal() {
    if (window.matchMedia("(max-width: 899px)").matches) {
      el.result.scrollIntoView({ block: "start", behavior: "smooth" });
    }
  }

  /* ---- inputs ---- */

  el.scanForm.addEventListener("submit", (event) => {
    event.preventDefault();
    verifyText(el.scan.value);
  });
  el.codeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    redeem(el.code.value);
  });
  el.file.addEventListener("change", () => verifyFile(el.file.files && el.file.files[0]));

  ["dragenter", "dragover"].forEach((type) =>
    el.drop.addEventListener(type, (event) => {
      event.preventDefault();
      el.drop.classList.add("over");
    })
  );
  ["dragleave", "dragend"].forEach((type) =>
    el.drop.addEventListener(type, () => el.drop.classList.remove("over"))
  );
  el.drop.addEventListener("drop", (event) => {
    event.preventDefault();
    el.drop.classList.remove("over");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) verifyFile(files[0]);
  });
  // a file dropped beside the zone must not navigate away from the page
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  function clearAll() {
    stopCamera();
    el.scan.value = "";
    el.code.value = "";
    el.file.value = "";
    el.fileName.textContent = "";
    showIdle();
    el.scan.focus();
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      clearAll();
    }
  });

  /* ---- camera (BarcodeDetector only; no library) ---- */

  let stream = null;
  let scanning = false;

  async function cameraSupport() {
    if (!("BarcodeDetector" in window)) {
      return "此浏览器不支持摄像头识码（无 BarcodeDetector），请使用扫码枪或粘贴。";
    }
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return "摄像头只能在 HTTPS 或本机地址下使用，请使用扫码枪或粘贴。";
    }
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (!formats.includes("qr_code")) return "此设备不支持识别二维码，请使用扫码枪或粘贴。";
    } catch (e) {
      return "此设备不支持识别二维码，请使用扫码枪或粘贴。";
    }
    return "";
  }

  function stopCamera() {
    scanning = false;
    if (stream) {
      stream.getTracks().forEach((track) => track.stop());
      stream = null;
    }
    el.video.srcObject = null;
    el.video.hidden = true;
    el.camStop.hidden = true;
    if (el.camStart.dataset.available === "1") el.camStart.hidden = false;
  }

  async function startCamera() {
    if (scanning) return;
    let detector;
    try {
      detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
    } catch (e) {
      const name = e && e.name;
      el.camNote.textContent =
        name === "NotAllowedError"
          ? "摄像头权限被拒绝，请在浏览器设置中允许，或使用扫码枪。"
          : name === "NotFoundError" || name === "OverconstrainedError"
          ? "未找到可用的摄像头，请使用扫码枪或粘贴。"
          : "无法打开摄像头：" + String((e && e.message) || e);
      stopCamera();
      return;
    }
    scanning = true;
    el.video.srcObject = stream;
    el.video.hidden = false;
    el.camStart.hidden = true;
    el.camStop.hidden = false;
    el.camNote.textContent = "请将二维码对准摄像头…";
    await el.video.play().catch(() => undefined);
    const tick = async () => {
      if (!scanning) return;
      try {
        if (el.video.readyState >= 2) {
          const codes = await detector.detect(el.video);
          if (codes.length && codes[0].rawValue) {
            el.scan.value = codes[0].rawValue;
            el.camNote.textContent = "已识别二维码。";
            stopCamera();
            verifyText(el.scan.value);
            return;
          }
        }
      } catch (e) {
        /* a frame that could not be read: try the next one */
      }
      setTimeout(tick, 200);
    };
    tick();
  }

  el.camStart.addEventListener("click", startCamera);
  el.camStop.addEventListener("click", () => {
    stopCamera();
    el.camNote.textContent = "";
    el.scan.focus();
  });
  cameraSupport().then((problem) => {
    el.camStart.dataset.available = problem ? "0" : "1";
    el.camStart.hidden = Boolean(problem);
    el.camNote.textContent = problem;
  });

  el.scan.focus();
})();
