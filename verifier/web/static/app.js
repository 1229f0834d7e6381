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
    "ofd.anchored": "链上存证",
    "short_code.check": "核验码",
  };
  const GROUP_LABELS = { seal: "印章", signature: "签章", pdf: "PDF ", ofd: "OFD " };
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
  const WORDS = { valid: "通过", invalid: "不通过", error: "无法核验" };

  /* One sentence per banner: what was found and what the clerk does next, chosen by the
   * stable code (message id) of the check that decided the verdict. */
  const INVALID_SENTENCES = [
    ["certificate.status.revoked", "该证照已被吊销，请勿受理。"],
    ["certificate.status.suspended", "该证照已被暂停使用，请勿受理；可请持证人联系发证机关。"],
    ["certificate.status.superseded", "该证照已被新证照取代，请勿受理；请持证人出示新证照。"],
    ["certificate.validity.expired", "该证照已过期，请勿受理；请持证人办理换证。"],
    ["certificate.validity.not_yet", "该证照尚未生效，请勿受理。"],
    ["issuer.authorized.", "发证机关无权签发这份证照，请勿受理。"],
    ["chain.anchored.missing", "区块链上查不到这份证照的存证，请勿受理。"],
    ["chain.anchored.other_issuer", "这份证照不是由其所写的发证机关上链的，可能是冒名签发，请勿受理。"],
    ["certificate.format.", "这不是一份有效的电子证照文件，请勿受理；请索取发证机关出具的原始文件。"],
    ["certificate.", "证照内容被改动过或并非发证机关签发，请勿受理。"],
    ["qr.signature.", "二维码内容与发证机关的签名不符（被改动或伪造），请勿受理。"],
    ["issuer.key.", "证照的签名密钥不可信，请勿受理。"],
    ["pdf.anchored.other_issuer", "这份证照文件不是由发证机关本身上链存证的，可能是他人伪造的文件，请勿受理；请索取发证机关出具的原始文件。"],
    ["ofd.anchored.other_issuer", "这份证照文件不是由发证机关本身上链存证的，可能是他人伪造的文件，请勿受理；请索取发证机关出具的原始文件。"],
    ["pdf.anchored.missing", "区块链上查不到这份盖章文件的存证，请勿受理。"],
    ["ofd.anchored.missing", "区块链上查不到这份盖章文件的存证，请勿受理。"],
    ["pdf.", "文件上的电子签章未通过核验，请勿受理。"],
    ["ofd.", "文件上的电子签章未通过核验，请勿受理。"],
    ["seal.", "电子印章未通过核验，请勿受理。"],
    ["signature.", "电子签章未通过核验，请勿受理。"],
  ];
  const ERROR_SENTENCES = [
    ["qr.format.qr_version_unsupported", "二维码版本过旧，无法核验；请持证人出示电子证照文件或出示码。"],
    ["qr.format.qr_not_anchored", "该证照尚未上链，无法核验；请稍后再扫描。"],
    ["qr.format.", "未能完整读取二维码，请重新扫描。"],
    ["short_code.pending", "该证照尚未上链，无法核验；请稍后再试。"],
    ["short_code.", "核验码有误或不是本服务登记的证照，请核对证照上的核验码后重新输入。"],
    ["chain.anchored.unconfirmed", "该证照刚上链，尚未确认，请稍后再核验。"],
    ["chain.elsewhere", "这份证照不在本服务跟随的区块链上，请到签发平台核验。"],
    ["chain.", "核验服务暂时连不上区块链，请稍后重试或联系管理员。"],
    ["issuer.authorized.unreadable", "核验服务暂时连不上区块链，请稍后重试或联系管理员。"],
    ["pdf.anchored.unreadable", "核验服务暂时连不上区块链，请稍后重试或联系管理员。"],
    ["ofd.anchored.unreadable", "核验服务暂时连不上区块链，请稍后重试或联系管理员。"],
    ["qr.key.", "仅凭二维码无法判断真伪，请持证人出示电子证照文件或出示码。"],
    ["qr.authority_ended", "仅凭二维码无法判断真伪，请持证人出示电子证照文件或出示码。"],
    ["qr.signature.unpublished", "仅凭二维码无法判断真伪，请持证人出示电子证照文件或出示码。"],
    ["file.resources.verify_busy", "核验服务繁忙，请稍后重试。"],
    ["file.resources.", "文件过于复杂，无法核验；请索取发证机关出具的原始文件。"],
    ["certificate.signature.unchecked", "本机暂时无法核验签名，请稍后重试或联系管理员。"],
    ["qr.signature.unchecked", "本机暂时无法核验签名，请稍后重试或联系管理员。"],
  ];
  const INVALID_DEFAULT = "未通过核验，请勿受理。";
  const ERROR_DEFAULT = "部分检查未能完成，暂时无法判断；请稍后重试或联系管理员。";

  /* A refused request: Chinese only, with the next step. */
  const ERROR_TEXT = {
    api_key_missing: "未填写窗口 API 密钥，请在页面顶部填写后重试。",
    api_key_invalid: "窗口 API 密钥无效或已吊销，请向管理员索取新的密钥。",
    wrong_role: "此密钥不是窗口密钥，无权核验；请填写窗口 API 密钥。",
    forbidden: "此密钥无权进行该操作，请填写窗口 API 密钥。",
    body_too_large: "内容过大，超过服务允许的上限；请索取原始文件或联系管理员。",
    bad_request: "提交的内容无法识别，请重新扫描或重新选择文件。",
    bad_json: "提交的内容无法识别，请重新扫描或重新选择文件。",
    bad_multipart: "文件没有上传完整，请重新选择文件。",
    unsupported_file: "不支持的文件类型，请选择签章 PDF、OFD 或证照 JSON 文件。",
    file_missing: "没有收到文件，请重新选择文件。",
    presentation_used: "出示码已使用过，请持证人重新生成出示码。",
    presentation_expired: "出示码已过期，请持证人重新生成出示码。",
    presentation_unknown: "出示码不存在，请核对后重新输入，或请持证人重新生成。",
    not_found: "未找到，请核对后重试。",
    certificate_not_found: "未找到该证照，请核对后重试。",
    chain_unavailable: "核验服务暂时连不上区块链，请稍后重试或联系管理员。",
    indexer_lagging: "核验服务暂时连不上区块链，请稍后重试或联系管理员。",
    database_unavailable: "核验服务的数据库暂时无法访问，请稍后重试或联系管理员。",
    internal_error: "核验服务内部出错，请稍后重试或联系管理员。",
    network: "无法连接核验服务，请检查网络后重试。",
    timeout: "核验服务响应超时，请稍后重试。",
    not_json: "粘贴的内容不是完整的证照 JSON，请重新粘贴或改用文件。",
  };

  /* Chinese labels of every key a verdict's subject may hold: certificates (GB/T 36903 core
   * metadata), presentations, sealed files and seals. A key not listed gets a generic label,
   * never itself. */
  const FACT_ORDER = [
    "identifier", "type.name", "name", "number", "holder.name", "holder.code",
    "holder.code_type", "issuer.name", "issuer.code", "issue_date", "valid_from",
    "valid_until", "jurisdiction", "type.code", "defining_body.name", "defining_body.code",
    "version", "annotations", "purpose",
  ];
  const FACT_LABELS = {
    identifier: "证照标识",
    name: "证照名称",
    number: "证照编号",
    version: "证照版本",
    "type.name": "证照类型",
    "type.code": "证照类型代码",
    "defining_body.name": "证照定义机构",
    "defining_body.code": "证照定义机构代码",
    "issuer.name": "发证机关",
    "issuer.code": "发证机关代码",
    issue_date: "发证日期",
    valid_from: "有效期起",
    valid_until: "有效期至",
    jurisdiction: "行政区划",
    "holder.name": "持证主体",
    "holder.code": "持证主体代码",
    "holder.code_type": "持证主体类型",
    annotations: "加注件",
    purpose: "用证事由",
    kind: "文件类型",
    size: "文件大小（字节）",
    revisions: "修订次数",
    files: "包内文件数",
    document_sm3: "文档 SM3 摘要",
    signatures: "电子签章",
    type: "文件类型",
    layout: "格式版本",
    es_id: "印章编码",
    vendor_id: "厂商标识",
    judged_at: "判定时间",
    signing_time: "签章时间",
    property_info: "签章属性",
    seal: "印章",
    signer: "签章人",
  };
  const HOLDER_KINDS = {
    "001": ["法人或其他组织（统一社会信用代码）", "持证单位名称", "统一社会信用代码"],
    "111": ["自然人（居民身份证）", "持证人姓名", "公民身份号码"],
  };
  const KIND_NAMES = { pdf: "签章 PDF 文件", ofd: "签章 OFD 文件", seal: "电子印章", signature: "电子签章" };
  const SEAL_KEYS = new Set(["layout", "es_id", "vendor_id", "judged_at", "signing_time", "property_info", "seal", "signer", "type"]);
  const CJK = /[\u3400-\u9fff]/;
  const QR_HIDDEN_PREFIX = "all other fields";
  const PRESENTATION_CODE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}-?[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}$/i;
  const TECH_MARK = "（技术细节：";

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
    checksBlock: $("checks-block"),
    factsBlock: $("facts-block"),
    tech: $("tech"),
    techBody: $("tech-body"),
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

  async function run(label, path, init, input) {
    if (busy) return;
    busy = true;
    stopCamera();
    showPending(label);
    try {
      const outcome = await call(path, init);
      if (outcome.ok) showVerdict(outcome.body, input);
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
    if (PRESENTATION_CODE.test(text)) {
      // the holder's presentation QR carries only its code: redeemed like the 出示码 field
      redeemCode(text, () => {
        if (keyProblem()) return;
        el.scan.focus();
        el.scan.select();
      });
      return;
    }
    let body;
    let input = "qr";
    if (text.startsWith("{")) {
      let document;
      try {
        document = JSON.parse(text);
      } catch (e) {
        showError(0, { error: "not_json", message: String(e.message || e) });
        return;
      }
      body = { certificate: document };
      input = "json";
    } else {
      // a QR payload, or the short code printed on a certificate for typing in: the server
      // tells them apart
      body = { qr: text };
    }
    run("正在核验…", "/v1/verify", {
      body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" },
    }, input).then(() => {
      if (keyProblem()) return; // showError put the focus on the key field
      el.scan.focus();
      el.scan.select(); // the next scan replaces this one
    });
  }

  function redeemCode(code, then) {
    run("正在查验出示码…", "/v1/presentations/redeem", {
      body: JSON.stringify({ code: code }),
      headers: { "Content-Type": "application/json" },
    }, "presentation").then(then);
  }

  function redeem(raw) {
    const code = raw.trim();
    if (!code) {
      el.code.focus();
      return;
    }
    el.fileName.textContent = "";
    redeemCode(code, () => {
      if (!keyProblem()) el.code.select();
    });
  }

  function verifyFile(file) {
    if (!file) return;
    el.fileName.textContent = file.name + "（" + file.size.toLocaleString("zh-CN") + " 字节）";
    const form = new FormData();
    form.append("file", file, file.name);
    run("正在核验文件…", "/v1/verify", { body: form }, "file").then(() => {
      el.file.value = "";
      if (!keyProblem()) el.scan.focus();
    });
  }

  /* ---- showing results ---- */

  function setState(state, word, summary, why, input) {
    seq += 1;
    el.result.dataset.state = state;
    el.result.dataset.seq = String(seq);
    if (why) el.result.dataset.why = why;
    else delete el.result.dataset.why;
    if (input) el.result.dataset.input = input;
    else delete el.result.dataset.input;
    el.banner.className = "banner " + state;
    el.word.textContent = word;
    el.summary.textContent = summary;
  }

  function clearDetails() {
    delete el.result.dataset.error;
    el.details.hidden = true;
    el.facts.replaceChildren();
    el.checks.replaceChildren();
    el.checksBlock.hidden = false;
    el.factsBlock.hidden = false;
    el.chain.textContent = "";
    el.techBody.replaceChildren();
    el.tech.open = false;
    el.tech.hidden = true;
  }

  function showPending(label) {
    clearDetails();
    setState("pending", "核验中", label);
    reveal();
  }

  function showIdle() {
    clearDetails();
    setState("idle", "待核验", "请扫码、输入出示码或选择文件。");
  }

  /* a refused request or a failure to reach the service: one Chinese sentence with the next
   * step; the HTTP status, code and the service's (English) message folded away */
  function showError(status, body) {
    clearDetails();
    const code = String(body.error || "error");
    const sentence =
      ERROR_TEXT[code] ||
      (status >= 500 ? "核验服务暂不可用，请稍后重试或联系管理员。" : "请求未被受理，请核对后重试或联系管理员。");
    setState("error", "无法核验", sentence, "refused");
    el.result.dataset.error = code;
    const lines = [];
    if (status) lines.push("HTTP " + status);
    lines.push("错误代码：" + code);
    if (body.message) lines.push(String(body.message));
    techLines(lines);
    el.details.hidden = false;
    el.checksBlock.hidden = true;
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
      if (group && part) return group + part;
    }
    return "其他检查";
  }

  /* ---- times: always Beijing time (UTC+8), whatever the browser's time zone ---- */

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function beijingTime(iso) {
    const text = String(iso);
    // a time without a zone is UTC (as the service writes them), never the browser's zone
    const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(text) || !text.includes("T") ? text : text + "Z";
    const when = new Date(zoned);
    if (isNaN(when)) return String(iso);
    const b = new Date(when.getTime() + 8 * 3600 * 1000); // read back with getUTC*
    return (
      b.getUTCFullYear() + "-" + pad(b.getUTCMonth() + 1) + "-" + pad(b.getUTCDate()) + " " +
      pad(b.getUTCHours()) + ":" + pad(b.getUTCMinutes()) + ":" + pad(b.getUTCSeconds()) + "（北京时间）"
    );
  }

  const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

  /* ---- facts ---- */

  function factLabel(key, cert) {
    const kinds = HOLDER_KINDS[cert["holder.code_type"]];
    if (kinds && key === "holder.name") return kinds[1];
    if (kinds && key === "holder.code") return kinds[2];
    const seal = cert.kind === "seal" || cert.kind === "signature";
    if (seal && key === "name") return "印章名称";
    if (seal && key === "valid_from") return "印章有效期起";
    if (seal && key === "valid_until") return "印章有效期至";
    if (FACT_LABELS[key]) return FACT_LABELS[key];
    if (key.startsWith("fields.")) {
      const field = key.slice("fields.".length);
      return CJK.test(field) ? field : "其他字段（" + field + "）";
    }
    return "其他信息";
  }

  function formatValue(key, value) {
    if (value === null || value === undefined || value === "") {
      return key === "valid_until" ? "长期有效" : "—";
    }
    if (key === "holder.code_type") {
      const kinds = HOLDER_KINDS[String(value)];
      return kinds ? kinds[0] : "其他证件类型（" + String(value) + "）";
    }
    if (key === "kind" || (key === "type" && KIND_NAMES[value])) return KIND_NAMES[value] || "文件";
    if (Array.isArray(value)) {
      if (!value.length) return "无";
      return value.map((v) => formatItem(v)).join("、");
    }
    if (typeof value === "object") return formatItem(value);
    if (typeof value === "string" && ISO_TIME.test(value)) return beijingTime(value);
    return String(value);
  }

  /* one signature or seal of a file: its seal's name, the signer, when */
  function formatItem(v) {
    if (!v || typeof v !== "object") return String(v);
    const bits = [];
    const seal = typeof v.seal === "object" && v.seal ? v.seal.name : v.seal;
    if (seal) bits.push("印章“" + seal + "”");
    else if (v.name) bits.push("“" + v.name + "”");
    if (v.es_id) bits.push("编码 " + v.es_id);
    if (v.signer && typeof v.signer === "string") bits.push("签章人 " + v.signer);
    if (v.signing_time) bits.push("签章时间 " + beijingTime(v.signing_time));
    if (v.field && !bits.length) bits.push("签章 " + v.field);
    return bits.length ? bits.join("，") : "（无可显示的信息）";
  }

  function formatHidden(hidden, cert) {
    if (!Array.isArray(hidden)) return "—";
    if (hidden.some((h) => String(h).startsWith(QR_HIDDEN_PREFIX))) {
      return "二维码只含证照标识、类型、发证机关、行政区划和有效期；持证人信息等请查看证照文件或出示码";
    }
    if (!hidden.length) return "无";
    return hidden.map((path) => factLabel(String(path), cert)).join("、");
  }

  function addFact(label, value, cls, key) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (cls) dd.className = cls;
    if (key) dd.dataset.key = key;
    el.facts.append(dt, dd);
  }

  function showFacts(cert) {
    const shown = new Set(["hidden", "chain"]);
    const isCertificate = "identifier" in cert;
    let others = 0;
    if (isCertificate) {
      // what the certificate is and who issued it: always, even when not known here
      if (!("type.name" in cert)) cert["type.name"] = null;
      if (!("issuer.name" in cert)) cert["issuer.name"] = null;
    }
    // the same fact twice is one row: the name that is the type's name, a field that repeats
    // the holder (营业执照: 企业名称, 统一社会信用代码)
    if (cert.name && cert.name === cert["type.name"]) shown.add("name");
    if (cert.type && cert.type === cert.kind) shown.add("type"); // a seal file: its kind again
    const holderValues = new Set(
      [cert["holder.name"], cert["holder.code"]].filter((v) => typeof v === "string" && v)
    );
    const unknown = { "type.name": "（暂时无法读取类型名称）", "issuer.name": "（暂时无法从区块链读取发证机关名称）" };
    const keys = FACT_ORDER.filter((k) => k in cert).concat(
      Object.keys(cert).filter((k) => !FACT_ORDER.includes(k))
    );
    for (const key of keys) {
      if (shown.has(key)) continue;
      shown.add(key);
      const value = cert[key];
      if (key.startsWith("fields.") && holderValues.has(value)) continue;
      const text = value === null && unknown[key] ? unknown[key] : formatValue(key, value);
      const mono = key === "identifier" || key === "document_sm3";
      let label = factLabel(key, cert);
      if (label === "其他信息") label += "（" + (++others) + "）"; // a key this page does not know
      addFact(label, text, mono ? "mono" : "", key);
    }
    if (Array.isArray(cert.hidden) && cert.hidden.length) {
      addFact("未披露字段", formatHidden(cert.hidden, cert), "", "hidden");
    }
    el.factsBlock.hidden = !el.facts.children.length; // an unreadable scan shows no facts
  }

  /* ---- the verdict ---- */

  function codeOf(check) {
    return String(check.code || "");
  }

  /* what the reason says for the clerk: the Chinese sentence without its technical detail */
  function plainReason(check) {
    const zh = typeof check.reason_zh === "string" ? check.reason_zh.trim() : "";
    if (!zh || !CJK.test(zh)) return "（说明见技术细节）";
    const at = zh.indexOf(TECH_MARK);
    return at > 0 ? zh.slice(0, at) : zh;
  }

  function sentenceFor(rules, code, cause) {
    const full = cause ? code + "." + cause : code;
    for (const [prefix, sentence] of rules) {
      if (full.startsWith(prefix) || code.startsWith(prefix)) return sentence;
    }
    return "";
  }

  function verdictSentence(verdict, checks, subject, input) {
    if (verdict === "valid") {
      if (!("identifier" in subject)) {
        return subject.kind === "pdf" || subject.kind === "ofd"
          ? "文件上的电子签章真实有效，盖章后未被改动，可以受理。"
          : "电子印章（签章）真实有效。";
      }
      if (input === "qr") return "证照真实有效，可以受理；二维码不含持证人信息，需核对时请查看证照文件或出示码。";
      if (input === "presentation") return "证照真实有效，可以受理；请核对持证人披露的信息与用证事由。";
      return "证照真实有效，可以受理；请核对持证人信息。";
    }
    const status = verdict === "invalid" ? "INVALID" : "ERROR";
    const rules = verdict === "invalid" ? INVALID_SENTENCES : ERROR_SENTENCES;
    for (const check of checks) {
      if (check.status !== status) continue;
      const sentence = sentenceFor(rules, codeOf(check), check.cause);
      if (sentence) return sentence;
    }
    return verdict === "invalid" ? INVALID_DEFAULT : ERROR_DEFAULT;
  }

  /* why a verdict of error: a scan that could not be read (rescan), the chain (retry) */
  function errorKind(checks) {
    const first = checks.find((c) => c.status === "ERROR");
    const code = first ? codeOf(first) : "";
    if (code.startsWith("qr.format.")) return "rescan";
    if (code.startsWith("chain.") || code.endsWith(".unreadable")) return "chain";
    return "undecided";
  }

  function techLines(lines) {
    for (const line of lines) {
      const item = document.createElement("li");
      item.textContent = line;
      el.techBody.append(item);
    }
    el.tech.hidden = !lines.length;
  }

  function showVerdict(body, input) {
    const verdict = WORDS[body.verdict] ? body.verdict : "error";
    const checks = Array.isArray(body.checks) ? body.checks : [];
    const subject = body.certificate && typeof body.certificate === "object" ? body.certificate : {};
    const summary = verdictSentence(verdict, checks, subject, input);
    clearDetails();
    setState(verdict, WORDS[verdict], summary, verdict === "error" ? errorKind(checks) : "", input);

    const cert = Object.assign({}, subject);
    if (body.purpose) cert.purpose = body.purpose;
    showFacts(cert);

    const chain = body.chain || {};
    const bits = [];
    if (chain.block !== null && chain.block !== undefined) bits.push("链上区块 #" + chain.block);
    if (chain.checked_at) bits.push("核验时间 " + beijingTime(chain.checked_at));
    el.chain.textContent = bits.join(" · ");

    const tech = [];
    for (const check of checks) {
      const row = document.createElement("tr");
      row.dataset.name = check.name;
      if (check.code) row.dataset.code = check.code;
      const name = document.createElement("th");
      name.scope = "row";
      name.textContent = checkLabel(check.name);
      const [label, cls] = STATUS_LABELS[check.status] || ["? 未知", "skip"];
      const status = document.createElement("td");
      status.className = "status " + cls;
      status.textContent = label;
      const reason = document.createElement("td");
      reason.className = "reason";
      reason.textContent = plainReason(check);
      row.append(name, status, reason);
      el.checks.append(row);
      const code = [check.name, check.status, check.code, check.cause].filter(Boolean).join(" · ");
      tech.push(code + "：" + String(check.reason || ""));
    }
    techLines(tech);
    el.details.hidden = false;
    reveal();
  }

  function reveal() {
    if (window.matchMedia("(max-width: 899px)").matches) {
      el.result.scrollIntoView({ block: "start", behavior: "auto" });
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
