"""Seal verification as verdict fragments: maps :mod:`seals.seal` steps onto ``Fragment``.

``seals`` cannot import ``verifier`` (layering), so it reports with its own ``Step`` type; this
module is the one place that turns a :class:`seals.seal.VerificationReport` (and a sealed PDF's
:class:`seals.pdf.PdfReport`) into the project-wide :class:`verifier.verdict.Verdict`.

``seals`` reports in English only; :func:`reason_zh` gives each step (name and status) its
Chinese sentence for the counter clerk, taking the facts (names, dates, byte counts) from the
step's ``data`` or, where only the English sentence carries them, from that sentence. A step
it does not know still gets a Chinese sentence: the check, its result, and the English
reason as technical detail.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from seals.pdf import PdfReport
from seals.seal import Step, StepStatus, VerificationReport
from verifier.verdict import Fragment, Status, Verdict

_STATUS = {
    StepStatus.VALID: Status.VALID,
    StepStatus.INVALID: Status.INVALID,
    StepStatus.ERROR: Status.ERROR,
    StepStatus.SKIPPED: Status.SKIPPED,
}

# ----------------------------------------------------------------------- Chinese reasons

LABELS_ZH = {
    "seal.structure": "印章结构",
    "seal.version": "印章版本",
    "seal.maker_signature": "制章者签名",
    "seal.maker_certificate": "制章者证书",
    "seal.maker_path": "制章者证书链",
    "seal.validity": "印章有效期",
    "signature.structure": "签章结构",
    "signature.version": "签章版本",
    "signature.value": "签名值",
    "signature.signer_in_seal": "签章人与印章",
    "signature.signer_certificate": "签章人证书",
    "signature.signer_path": "签章人证书链",
    "signature.data_hash": "数据摘要",
    "signature.timestamp": "时间戳",
    "pdf.structure": "PDF 结构",
    "pdf.signatures": "PDF 签章",
    "pdf.format": "签章格式",
    "pdf.byte_range": "签名范围",
    "pdf.digest": "文档摘要",
    "pdf.modifications": "签章后修改",
    "pdf.anchored": "链上存证",
}
"""A Chinese name for each step, used in the generic sentences."""

_RESULT_ZH = {
    StepStatus.VALID: "通过",
    StepStatus.INVALID: "不通过，不能受理",
    StepStatus.ERROR: "无法核验，请稍后重试或联系管理员",
    StepStatus.SKIPPED: "未检查",
}

_PDF_UNREADABLE_ZH = {
    "pdf_malformed": (
        "PDF 文件已损坏或格式不正确（或被构造成不同阅读器会显示不同内容），无法可靠读取"
    ),
    "pdf_encrypted": "PDF 文件已加密，无法核验；请索取未加密的盖章文件",
    "pdf_too_large": "PDF 文件过大，超出本服务的处理上限",
    "pdf_hostile": "PDF 文件结构异常（像是为耗尽资源而构造的文件），已拒绝读取",
}


def detail(text: object) -> str:
    """Technical detail (usually the English reason) after a Chinese sentence."""
    return f"（技术细节：{text}）" if str(text) else ""


def _label(name: str) -> str:
    return LABELS_ZH.get(name, name)


def _time(value: object) -> str:
    """An ISO time from a step's data, written the way the seal reasons write times."""
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _day(value: object) -> str:
    return _time(value)[:10]


def _match(pattern: str, text: str, group: str = "x") -> str | None:
    found = re.search(pattern, text)
    return found.group(group) if found else None


_VALIDITY = r"(?: is valid at | was not yet valid at | had expired at )"


def _validity_zh(step: Step, what: str) -> str:
    """A validity step of ``seals.seal`` (certificate or seal dates) in Chinese."""
    data, reason = step.data, step.reason
    if "judged_at" not in data:
        return _generic(step)
    at = ("在签章时间 " if "the signing time" in reason else "在 ") + _time(data["judged_at"])
    if step.status is StepStatus.VALID:
        text = f"{what}{at} 有效（{_day(data['not_before'])} 至 {_day(data['not_after'])}）"
        if "expired_since" in data:
            text += f"；此后已于 {_time(data['expired_since'])} 过期，但盖章时有效，签章仍然成立"
        if "the signer's own claim" in reason:
            text += "；签章时间是签章人自己声明的（签章不带时间戳）"
        return text
    if "was not yet valid" in reason:
        return f"{what}{at} 尚未生效（自 {_time(data['not_before'])} 起有效），不能受理"
    return f"{what}{at} 已过期（有效期至 {_time(data['not_after'])}），不能受理"


def _certificate_zh(step: Step, role: str) -> str:
    if step.status is StepStatus.SKIPPED:
        return f"没有可读取的{role}证书，未检查"
    if "does not allow signing" in step.reason:
        return f"{role}证书的密钥用途不允许签名，不能受理"
    who = _match(r"certificate \((?P<x>.*)\)" + _VALIDITY, step.reason)
    return _validity_zh(step, f"{role}证书（{who}）" if who else f"{role}证书")


def _seal_validity_zh(step: Step) -> str:
    if "ends before it starts" in step.reason:
        return "印章的有效期结束早于开始，印章数据有误，不能受理"
    name = _match(r"^the seal '(?P<x>.*)'" + _VALIDITY, step.reason)
    return _validity_zh(step, f"印章“{name}”" if name is not None else "印章")


_PATH_PROBLEMS: tuple[tuple[str, str], ...] = (
    (
        r"^certificate (?P<who>.*) is outside its validity \((?P<a>\S+) to (?P<b>\S+)\) "
        r"at (?P<t>.*)$",
        "证书 {who} 在 {t} 不在有效期内（{a} 至 {b}）",
    ),
    (
        r"^issuer (?P<who>.*) is outside its validity \((?P<a>\S+) to (?P<b>\S+)\) at (?P<t>.*)$",
        "签发者 {who} 在 {t} 不在有效期内（{a} 至 {b}）",
    ),
    (
        r"^the signature on (?P<who>.*) does not verify with the key of any certificate "
        r"named as its issuer$",
        "{who} 上的签名不能用其签发者证书的密钥验证",
    ),
    (
        r"^no trusted issuer found for (?P<who>.*) \(issuer (?P<issuer>.*)\)$",
        "找不到 {who} 的可信签发者（签发者 {issuer}）",
    ),
    (
        r"^issuer (?P<who>.*) is not marked as a CA \(basicConstraints cA\)"
        r"(?P<lenient> — accepted in lenient mode)?$",
        "签发者 {who} 未标记为 CA（basicConstraints cA）",
    ),
    (
        r"^issuer (?P<who>.*) lacks the keyCertSign key usage"
        r"(?P<lenient> — accepted in lenient mode)?$",
        "签发者 {who} 缺少 keyCertSign 密钥用途",
    ),
    (
        r"^issuer (?P<who>.*) path length constraint exceeded$",
        "超出签发者 {who} 的路径长度限制",
    ),
    (r"^certificate chain too long$", "证书链过长"),
    (r"^the chain does not end at a trust anchor$", "证书链没有终止于信任根证书"),
)


def _path_problem_zh(text: str) -> str:
    for pattern, chinese in _PATH_PROBLEMS:
        found = re.match(pattern, text)
        if found:
            return chinese.format(**{k: v or "" for k, v in found.groupdict().items()})
    return text


def _path_zh(step: Step, role: str) -> str:
    if step.status is StepStatus.SKIPPED:
        if "no trust anchor" in step.reason:
            return f"本服务未配置信任根证书，未检查{role}证书链"
        return f"没有可读取的{role}证书，未检查{role}证书链"
    notes = [_path_problem_zh(str(n)) for n in step.data.get("notes", ())]
    if step.status is StepStatus.VALID:
        anchor = _match(r"^chains to the trust anchor (?P<x>.*?)(?:; .*)?$", step.reason)
        text = f"{role}证书可追溯到信任根 {anchor}" if anchor else f"{role}证书可追溯到信任根"
        if notes:
            text += f"（宽松模式下接受：{'；'.join(notes)}）"
        return text
    problems = [_path_problem_zh(str(p)) for p in step.data.get("problems", ())]
    if not problems:
        return _generic(step)
    return f"{role}证书链不可信：{'；'.join(problems)}，不能受理"


def _seal_structure_zh(step: Step) -> str:
    if step.status is not StepStatus.VALID:
        return "印章数据无法读取，不是有效的 GB/T 38540 电子印章，不能受理" + detail(step.reason)
    found = re.search(
        r"(?P<how>a readable|embeds the) (?P<layout>\S+) seal '(?P<name>.*)' "
        r"\(code (?P<code>.*)\)$",
        step.reason,
    )
    if not found:
        return "可读取的电子印章"
    head = "签章内嵌" if found["how"] == "embeds the" else "可读取的"
    return f"{head} {found['layout']} 印章“{found['name']}”（印章编码 {found['code']}）"


def _version_zh(step: Step, what: str) -> str:
    layout = str(step.data.get("layout", "v4"))
    if step.status is StepStatus.VALID:
        return f"GB/T 38540-2020（v4）{what}"
    if layout == "v1":
        label = "GM/T 0031-2014（v1）"
    elif layout == "v5":
        label = "v5（按 v4 格式读取）"
    else:
        label = layout
    return f"{label}{what}：其签名、证书和日期按 v4 的规则检查，该版本特有的规则不受支持，未检查"


def _maker_signature_zh(step: Step) -> str:
    if step.status is StepStatus.VALID:
        who = _match(r"^signed by the seal maker (?P<x>.+)$", step.reason)
        return f"由制章者 {who} 签名" if who else "由制章者签名"
    if "error" in step.data:
        return "制章者证书无法读取，不能确认印章由谁制作，不能受理" + detail(step.reason)
    return "制章者签名与印章不符：印章被改动过，或不是用该制章者的密钥制作的，不能受理"


def _signature_structure_zh(step: Step) -> str:
    if step.status is not StepStatus.VALID:
        return "签章数据无法读取，不是有效的 GB/T 38540 电子签章，不能受理" + detail(step.reason)
    text = f"可读取的 {step.data.get('layout', '')} 签章"
    made = _match(r" made (?P<x>\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ) over ", step.reason)
    if made:
        text += f"，签章时间 {made[:-1]} UTC"
    elif "signing time unreadable" in step.reason:
        text += "（签章时间无法读取）"
    if "property_info" in step.data:
        text += f"，签章对象：{step.data['property_info']}"
    return text


def _value_zh(step: Step) -> str:
    if step.status is StepStatus.VALID:
        who = _match(r"^intact; signed by (?P<x>.+)$", step.reason)
        return f"签名完好，由 {who} 签署" if who else "签名完好"
    if "error" in step.data:
        return "签章人证书无法读取，不能确认签章人，不能受理" + detail(step.reason)
    return "签名值与签章内容不符：签章内容被改动过，或不是用签章人的密钥签的，不能受理"


def _signer_in_seal_zh(step: Step) -> str:
    if step.status is StepStatus.SKIPPED:
        return "没有可读取的签章人证书，未检查签章人是否获印章授权"
    if step.status is StepStatus.VALID:
        what = "证书摘要" if "certificate digest" in step.reason else "证书"
        return f"签章人的{what}列在印章的授权证书中"
    return "签章人证书不在印章授权的证书之列：签章人无权使用该印章，不能受理"


def _data_hash_zh(step: Step) -> str:
    if step.status is StepStatus.SKIPPED:
        what = _match(r"^the signed data \((?P<x>.*)\) was not given$", step.reason)
        return f"未提供被签章的数据（{what}），未检查数据摘要" if what else "未提供被签章的数据"
    if step.status is StepStatus.VALID:
        return "数据与盖章时完全一致（SM3 摘要相符）"
    return "数据与盖章时不一致（SM3 摘要不符）：数据在盖章后被改动过，不能受理"


def _timestamp_zh(step: Step) -> str:
    if step.status is StepStatus.SKIPPED:
        return "签章带有时间戳；本服务暂不检查时间戳"
    return _generic(step)


def _pdf_structure_zh(step: Step) -> str:
    if step.status is not StepStatus.VALID:
        return _generic(step)
    version = _match(r"^a PDF (?P<x>\S+) of ", step.reason) or ""
    kinds = _match(r"section\(s\) \((?P<x>.*)\)$", step.reason)
    text = (
        f"PDF {version} 文件，{step.data.get('size', '?')} 字节，"
        f"{step.data.get('sections', '?')} 个交叉引用段"
    )
    return text + (f"（{kinds}）" if kinds else "")


def _pdf_signatures_zh(step: Step) -> str:
    if step.status is StepStatus.VALID:
        fields = [str(f) for f in step.data.get("fields", ())]
        return f"共 {len(fields)} 个电子签章：{'、'.join(fields)}"
    return "该 PDF 没有 GB/T 38540 电子签章，无法核验盖章；请索取盖章后的文件"


def _pdf_format_zh(step: Step) -> str:
    found = re.search(
        r"field '(?P<field>.*)' holds a (?:/SubFilter /(?P<sub>\S+)|no /SubFilter) ", step.reason
    )
    if not found:
        return _generic(step)
    what = f" /SubFilter /{found['sub']} 签名" if found["sub"] else "没有 /SubFilter 的签名"
    head = f"字段“{found['field']}”中是{what}，不是 GB/T 38540 电子签章"
    if step.status is StepStatus.SKIPPED:
        return head + "，未检查"
    return head + "：本服务无法核验这种签名，文件不能作为盖章文件受理"


def _byte_range_zh(step: Step) -> str:
    if step.status is StepStatus.VALID:
        ranges = step.data.get("byte_range")
        end = step.data.get("revision_end", "?")
        if isinstance(ranges, list) and len(ranges) == 4:
            gap = ranges[2] - ranges[1]
            return f"签章覆盖其所在版本的第 0–{end} 字节，只留出签名值本身（{gap} 字节）"
        return f"签章覆盖其所在版本的第 0–{end} 字节，只留出签名值本身"
    if step.status is StepStatus.INVALID:
        return (
            "签名范围（/ByteRange）不正确：签章没有完整保护文件，文件可能被篡改或伪造，不能受理"
            + detail(step.reason)
        )
    return _generic(step)


def _digest_zh(step: Step) -> str:
    if step.status is StepStatus.SKIPPED:
        if "byte range" in step.reason:
            return "签名范围无效，未检查文档摘要"
        return "签章无法读取，未检查文档摘要"
    if step.status is StepStatus.VALID:
        return "签章保护的内容与盖章时完全一致（SM3 摘要相符）"
    if step.status is StepStatus.INVALID and "SM3 does not match" in step.reason:
        return "签章保护的内容与盖章时不一致（SM3 摘要不符）：文件在盖章后被改动过，不能受理"
    return _generic(step)


_MODIFICATION_KINDS_ZH = {
    "changed": "盖章后文件内容被改动（对象被改写、删除或替换）",
    "bytes": "盖章后追加的字节中有不属于任何已登记对象的内容（阅读器可能显示与核验不同的内容）",
    "shadow": "盖章前预留的空引用在盖章后被填入内容（影子攻击）",
    "appearance": "盖章后加盖的签章超出允许的位置或大小（可能遮盖页面内容或之前的签章）",
    "redraw": "表单要求阅读器重新生成字段外观（/NeedAppearances），显示的内容可能与签章时不同",
    "not_seal": "盖章后追加的内容不是完整的新签章",
    "later_seal": "盖章后加盖的签章本身核验不通过",
    "unreadable": "盖章后追加的内容无法读取",
}


def _modifications_zh(step: Step) -> str:
    if step.status is StepStatus.SKIPPED:
        return "签名范围无效，无法判断盖章后文件是否被改动"
    if step.status is StepStatus.VALID:
        seals = [str(s) for s in step.data.get("seals", ())]
        if seals:
            added = []
            for text in seals:
                found = re.match(r"^revision (?P<n>\d+) adds seal field '(?P<f>.*)'$", text)
                added.append(f"第 {found['n']} 版加盖签章“{found['f']}”" if found else text)
            return f"盖章后只加盖了其他签章（均已核验通过）：{'；'.join(added)}"
        blank = _match(r"\((?P<x>\d+) bytes of trailing whitespace ignored\)", step.reason)
        return "盖章后文件未被改动" + (f"（忽略了末尾 {blank} 字节空白）" if blank else "")
    if step.status is StepStatus.INVALID:
        if "does not continue the sealed revision" in step.reason:
            return "文件的交叉引用链与盖章时的版本不衔接：文件在盖章后被重写过，不能受理"
        problems = [str(p) for p in step.data.get("problems", ())]
        count = f"（{len(problems)} 处）" if problems else ""
        kinds = [_MODIFICATION_KINDS_ZH[k] for k in step.data.get("kinds", ())
                 if k in _MODIFICATION_KINDS_ZH]
        what = f"：{'；'.join(kinds)}" if kinds else ""
        return (
            f"盖章后文件被改动过{count}{what}，现在看到的内容可能与盖章时不同，不能受理"
            + detail("; ".join(problems[:10]) or step.reason)
        )
    return _generic(step)


def _generic(step: Step) -> str:
    """Any step: its Chinese name and result, the English reason as detail."""
    if step.status is StepStatus.ERROR:
        return f"{_label(step.name)}检查意外出错，暂时无法判断，请稍后重试或联系管理员" + detail(
            step.reason
        )
    if step.status is StepStatus.INVALID and step.reason.startswith("cannot be read"):
        return f"{_label(step.name)}无法读取，不能受理" + detail(step.reason)
    return f"{_label(step.name)}：{_RESULT_ZH[step.status]}" + detail(step.reason)


_ZH: Mapping[str, Callable[[Step], str]] = {
    "seal.structure": _seal_structure_zh,
    "seal.version": lambda s: _version_zh(s, "印章"),
    "seal.maker_signature": _maker_signature_zh,
    "seal.maker_certificate": lambda s: _certificate_zh(s, "制章者"),
    "seal.maker_path": lambda s: _path_zh(s, "制章者"),
    "seal.validity": _seal_validity_zh,
    "signature.structure": _signature_structure_zh,
    "signature.version": lambda s: _version_zh(s, "签章"),
    "signature.value": _value_zh,
    "signature.signer_in_seal": _signer_in_seal_zh,
    "signature.signer_certificate": lambda s: _certificate_zh(s, "签章人"),
    "signature.signer_path": lambda s: _path_zh(s, "签章人"),
    "signature.data_hash": _data_hash_zh,
    "signature.timestamp": _timestamp_zh,
    "pdf.structure": _pdf_structure_zh,
    "pdf.signatures": _pdf_signatures_zh,
    "pdf.format": _pdf_format_zh,
    "pdf.byte_range": _byte_range_zh,
    "pdf.digest": _digest_zh,
    "pdf.modifications": _modifications_zh,
}


def reason_zh(step: Step) -> str:
    """The Chinese sentence for one step of a seal, seal signature or sealed-PDF report."""
    if step.status is StepStatus.ERROR:  # a step that crashed: the same for every step
        return _generic(step)
    if step.status is StepStatus.INVALID and step.reason.startswith("cannot be read: "):
        return _generic(step)
    chinese = _ZH.get(step.name)
    if chinese is None:
        return _generic(step)
    try:
        return chinese(step)
    except (KeyError, TypeError, ValueError, IndexError):  # data not as expected: say less
        return _generic(step)


# -------------------------------------------------------------------------- fragments


def fragment_of(step: Step) -> Fragment:
    """One seal verification step as a verdict fragment."""
    return Fragment(
        name=step.name,
        type=step.type,
        status=_STATUS[step.status],
        reason=step.reason,
        data=dict(step.data),
        reason_zh=reason_zh(step),
    )


def fragments_of(report: VerificationReport) -> tuple[Fragment, ...]:
    """Every step of ``report``, in order."""
    return tuple(fragment_of(s) for s in report.steps)


def verdict_of(report: VerificationReport) -> Verdict:
    """The verdict over a seal or seal-signature report; ``subject`` says what was verified."""
    return Verdict(checks=fragments_of(report), subject={"kind": report.kind, **report.subject})


def pdf_verdict_of(report: PdfReport) -> Verdict:
    """The verdict over a sealed PDF: the document steps, then each signature's steps, each
    fragment's ``data`` naming its ``field``. Valid only when every seal is."""
    checks = [fragment_of(s) for s in report.steps]
    signatures: list[dict[str, Any]] = []
    for sig in report.signatures:
        for step in sig.steps:
            f = fragment_of(step)
            checks.append(
                Fragment(
                    f.name,
                    f.type,
                    f.status,
                    f"[{sig.field}] {f.reason}",
                    {"field": sig.field, **f.data},
                    f"[{sig.field}] {f.reason_zh}",
                )
            )
        signatures.append(
            {
                "field": sig.field,
                "revision": sig.revision,
                "byte_range": list(sig.byte_range),
                "signer": sig.signer,
                "signing_time": sig.signing_time.isoformat() if sig.signing_time else None,
                "seal": sig.seal_name,
            }
        )
    subject = {
        "kind": "pdf",
        "size": report.size,
        "revisions": report.revisions,
        "document_sm3": report.document_digest.hex(),
        "signatures": signatures,
    }
    return Verdict(checks=tuple(checks), subject=subject)


def pdf_unreadable_verdict(code: str, message: str, message_zh: str = "") -> Verdict:
    """The verdict on a file that claims to be a PDF but cannot be read (malformed, hostile,
    truncated): invalid, with one ``pdf.structure`` fragment saying why (``message_zh``: in
    Chinese; by default from ``code``)."""
    if not message_zh:
        message_zh = (
            _PDF_UNREADABLE_ZH.get(code, "PDF 文件无法读取")
            + "，不能受理；请索取发证机关出具的原始文件"
            + detail(message)
        )
    return Verdict(
        checks=(
            Fragment(
                "pdf.structure", "format", Status.INVALID, message, {"error": code}, message_zh
            ),
        ),
        subject={"kind": "pdf"},
    )
