"""The messages of seal, seal-signature, certificate-path and sealed-PDF checks, in English and
Chinese (the start of :data:`seals.report.CATALOGUE`).

English is what API clients and logs read; Chinese is the counter clerk's sentence: the same
facts, and what to do. ``{x!d}`` writes ``x`` (in English) as technical detail; ``{t!b:…}``
writes a time in Beijing time (UTC+8).
"""

from __future__ import annotations

from seals.messages_ofd import OFD_LABELS, OFD_MESSAGES
from seals.messages_pdf import PDF_DETAILS

_TS = "%Y-%m-%d %H:%M:%SZ"
_TIME_ZH = "%Y-%m-%d %H:%M:%S（北京时间）"
_DAY = "%Y-%m-%d"
_V4_RULES_ZH = "：其签名、证书和日期按 v4 的规则检查，该版本特有的规则不受支持，未检查"

LABELS: dict[str, str] = {
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
"""A Chinese name for each check (``check.<name>``), used in the generic sentences."""

MESSAGES: dict[str, tuple[str, str]] = {
    "empty": ("", ""),
    # ------------------------------------------------------------ any check
    "check.error": (
        "could not check: {error}",
        "{check}检查意外出错，暂时无法判断，请稍后重试或联系管理员"
        "{error!d}",
    ),
    "check.unreadable": (
        "cannot be read: {error}",
        "{check}无法读取，不能受理{error!d}",
    ),
    # ------------------------------------------------------------ roles, layouts, times
    "role.maker": ("the seal maker's", "制章者"),
    "role.signer": ("the signer's", "签章人"),
    "role.maker.plain": ("maker", "制章者"),
    "role.signer.plain": ("signer", "签章人"),
    "layout.v1": ("GM/T 0031-2014 (v1)", "GM/T 0031-2014（v1）"),
    "layout.v5": ("v5 (read with the v4 layout)", "v5（按 v4 格式读取）"),
    "when.at": (f"{{t:{_TS}}}", f"在 {{t!b:{_TIME_ZH}}}"),
    "when.signing": (f"the signing time {{t:{_TS}}}", f"在签章时间 {{t!b:{_TIME_ZH}}}"),
    "what.certificate": ("{whose} certificate ({who})", "{whose}证书（{who}）"),
    "what.seal": ("the seal '{name}'", "印章“{name}”"),
    # ------------------------------------------------------------ validity (seal, certificates)
    "validity.not_yet": (
        f"{{what}} was not yet valid at {{when}} (valid from {{start:{_TS}}})",
        f"{{what}}{{when}} 尚未生效（自 {{start!b:{_TIME_ZH}}} 起有效），不能受理",
    ),
    "validity.expired": (
        f"{{what}} had expired at {{when}} (valid until {{end:{_TS}}})",
        f"{{what}}{{when}} 已过期（有效期至 {{end!b:{_TIME_ZH}}}），不能受理",
    ),
    "validity.valid": (
        f"{{what}} is valid at {{when}} ({{start:{_DAY}}} to {{end:{_DAY}}}){{since}}{{claim}}",
        f"{{what}}{{when}} 有效（{{start:{_DAY}}} 至 {{end:{_DAY}}}）{{since}}{{claim}}",
    ),
    "validity.expired_since": (
        f"; it has expired since ({{end:{_TS}}})",
        f"；此后已于 {{end!b:{_TIME_ZH}}} 过期，但盖章时有效，签章仍然成立",
    ),
    "validity.claim_no_timestamp": (
        "; the signing time is the signer's own claim (no time-stamp)",
        "；签章时间是签章人自己声明的（签章不带时间戳）",
    ),
    "validity.claim_timestamp_unchecked": (
        "; the signing time is the signer's own claim (its time-stamp is not checked)",
        "；签章时间是签章人自己声明的（签章所带的时间戳未经核验）",
    ),
    "certificate.none": ("no readable {role} certificate", "没有可读取的{role}证书，未检查"),
    "certificate.no_signing": (
        "{whose} certificate does not allow signing (key usage)",
        "{whose}证书的密钥用途不允许签名，不能受理",
    ),
    # ------------------------------------------------------------ certificate paths
    "path.no_certificate": (
        "no readable certificate to check",
        "没有可读取的{role}证书，未检查{role}证书链",
    ),
    "path.no_anchor": ("no trust anchor configured", "本服务未配置信任根证书，未检查{role}证书链"),
    "path.valid": (
        "chains to the trust anchor {anchor}{notes}",
        "{role}证书可追溯到信任根 {anchor}{notes}",
    ),
    "path.notes": ("; {notes}", "（宽松模式下接受：{notes}）"),
    "path.invalid": ("{problems}", "{role}证书链不可信：{problems}，不能受理"),
    "path.outside_validity": (
        "certificate {who} is outside its validity ({start:%Y-%m-%d} to {end:%Y-%m-%d}) "
        "at {at:%Y-%m-%d %H:%M}Z",
        "证书 {who} 在 {at:%Y-%m-%d %H:%M}Z 不在有效期内（{start:%Y-%m-%d} 至 {end:%Y-%m-%d}）",
    ),
    "path.issuer_outside_validity": (
        "issuer {who} is outside its validity ({start:%Y-%m-%d} to {end:%Y-%m-%d}) "
        "at {at:%Y-%m-%d %H:%M}Z",
        "签发者 {who} 在 {at:%Y-%m-%d %H:%M}Z 不在有效期内（{start:%Y-%m-%d} 至 {end:%Y-%m-%d}）",
    ),
    "path.bad_signature": (
        "the signature on {who} does not verify with the key of any certificate named as its "
        "issuer",
        "{who} 上的签名不能用其签发者证书的密钥验证",
    ),
    "path.no_issuer": (
        "no trusted issuer found for {who} (issuer {issuer})",
        "找不到 {who} 的可信签发者（签发者 {issuer}）",
    ),
    "path.not_ca": (
        "issuer {who} is not marked as a CA (basicConstraints cA)",
        "签发者 {who} 未标记为 CA（basicConstraints cA）",
    ),
    "path.not_ca_lenient": (
        "issuer {who} is not marked as a CA (basicConstraints cA) — accepted in lenient mode",
        "签发者 {who} 未标记为 CA（basicConstraints cA）",
    ),
    "path.no_key_cert_sign": (
        "issuer {who} lacks the keyCertSign key usage",
        "签发者 {who} 缺少 keyCertSign 密钥用途",
    ),
    "path.no_key_cert_sign_lenient": (
        "issuer {who} lacks the keyCertSign key usage — accepted in lenient mode",
        "签发者 {who} 缺少 keyCertSign 密钥用途",
    ),
    "path.length_exceeded": (
        "issuer {who} path length constraint exceeded",
        "超出签发者 {who} 的路径长度限制",
    ),
    "path.too_long": ("certificate chain too long", "证书链过长"),
    "path.no_anchor_at_end": (
        "the chain does not end at a trust anchor",
        "证书链没有终止于信任根证书",
    ),
    # ------------------------------------------------------------ seals
    "seal.structure.unreadable": (
        "{error}",
        "印章数据无法读取，不是有效的 GB/T 38540 电子印章，不能受理{error!d}",
    ),
    "seal.structure.readable": (
        "a readable {layout} seal '{name}' (code {code})",
        "可读取的 {layout} 印章“{name}”（印章编码 {code}）",
    ),
    "seal.structure.embedded": (
        "embeds the {layout} seal '{name}' (code {code})",
        "签章内嵌 {layout} 印章“{name}”（印章编码 {code}）",
    ),
    "seal.version.v4": ("GB/T 38540-2020 (v4) seal", "GB/T 38540-2020（v4）印章"),
    "seal.version.other": (
        "{label} seal: its signatures, certificates and dates are checked like v4; "
        "rules specific to this version are not supported",
        "{label}印章" + _V4_RULES_ZH,
    ),
    "seal.maker_signature.unreadable": (
        "the seal maker's certificate cannot be read: {error}",
        "制章者证书无法读取，不能确认印章由谁制作，不能受理"
        "{error!d}",
    ),
    "seal.maker_signature.invalid": (
        "the seal maker's signature does not match the seal: it was altered or not made with "
        "this maker's key",
        "制章者签名与印章不符：印章被改动过，或不是用该制章者的密钥制作的，不能受理",
    ),
    "seal.maker_signature.valid": ("signed by the seal maker {who}", "由制章者 {who} 签名"),
    "seal.validity.reversed": (
        "the seal's validity ends before it starts",
        "印章的有效期结束早于开始，印章数据有误，不能受理",
    ),
    # ------------------------------------------------------------ seal signatures
    "signature.structure.unreadable": (
        "{error}",
        "签章数据无法读取，不是有效的 GB/T 38540 电子签章，不能受理{error!d}",
    ),
    "signature.structure.readable": (
        "a readable {layout} seal signature{made} over {property_info!r}",
        "可读取的 {layout} 签章{made}，签章对象：{property_info}",
    ),
    "signature.structure.made": (f" made {{t:{_TS}}}", f"，签章时间 {{t!b:{_TIME_ZH}}}"),
    "signature.structure.no_time": (" (signing time unreadable)", "（签章时间无法读取）"),
    "signature.version.v4": ("GB/T 38540-2020 (v4) signature", "GB/T 38540-2020（v4）签章"),
    "signature.version.other": (
        "{layout} signature: checked like v4; rules specific to this version are not supported",
        "{label}签章" + _V4_RULES_ZH,
    ),
    "signature.value.unreadable": (
        "the signer's certificate cannot be read: {error}",
        "签章人证书无法读取，不能确认签章人，不能受理"
        "{error!d}",
    ),
    "signature.value.invalid": (
        "the signature does not match: the signed content was altered or the signature was "
        "not made with the signer's key",
        "签名值与签章内容不符：签章内容被改动过，或不是用签章人的密钥签的，不能受理",
    ),
    "signature.value.valid": ("intact; signed by {who}", "签名完好，由 {who} 签署"),
    "signature.signer_in_seal.none": (
        "no readable signer certificate",
        "没有可读取的签章人证书，未检查签章人是否获印章授权",
    ),
    "signature.signer_in_seal.certificate": (
        "the signer's certificate is listed in the seal",
        "签章人的证书列在印章的授权证书中",
    ),
    "signature.signer_in_seal.digest": (
        "the signer's certificate digest is listed in the seal",
        "签章人的证书摘要列在印章的授权证书中",
    ),
    "signature.signer_in_seal.invalid": (
        "the signer's certificate is not among the seal's authorised certificates",
        "签章人证书不在印章授权的证书之列：签章人无权使用该印章，不能受理",
    ),
    "signature.data_hash.not_given": (
        "the signed data ({what}) was not given",
        "未提供被签章的数据（{what}），未检查数据摘要",
    ),
    "signature.data_hash.valid": (
        "the data is exactly what was sealed (SM3 matches)",
        "数据与盖章时完全一致（SM3 摘要相符）",
    ),
    "signature.data_hash.invalid": (
        "the data differs from what was sealed (SM3 does not match)",
        "数据与盖章时不一致（SM3 摘要不符）：数据在盖章后被改动过，不能受理",
    ),
    "signature.timestamp.unchecked": (
        "the signature carries a time-stamp; time-stamps are not checked yet",
        "签章带有时间戳；本服务暂不检查时间戳",
    ),
    # ------------------------------------------------------------ sealed PDFs
    "pdf.structure.valid": (
        "a PDF {version} of {size} bytes with {sections} cross-reference section(s) ({kinds})",
        "PDF {version} 文件，{size} 字节，{sections} 个交叉引用段（{kinds}）",
    ),
    "pdf.signatures.valid": (
        "{count} seal signature(s): {fields}",
        "共 {count} 个电子签章：{fields}",
    ),
    "pdf.signatures.none": (
        "the PDF carries no GB/T 38540 seal signature",
        "该 PDF 没有 GB/T 38540 电子签章，无法核验盖章；请索取盖章后的文件",
    ),
    "pdf.format.foreign": (
        "field '{field}' holds a {what} signature, not a GB/T 38540 seal signature: this "
        "service cannot verify it, so the file cannot be accepted as sealed",
        "字段“{field}”中是{what}，不是 GB/T 38540 电子签章："
        "本服务无法核验这种签名，文件不能作为盖章文件受理",
    ),
    "pdf.format.subfilter": ("/SubFilter {subfilter}", " /SubFilter {subfilter} 签名"),
    "pdf.format.no_subfilter": ("no /SubFilter", "没有 /SubFilter 的签名"),
    "pdf.byte_range.valid": (
        "covers bytes 0–{end} of its revision except exactly the signature ({gap} bytes)",
        "签章覆盖其所在版本的第 0–{end} 字节，只留出签名值本身（{gap} 字节）",
    ),
    "pdf.byte_range.invalid": (
        "{why}",
        "签名范围（/ByteRange）不正确：{why}。签章没有完整保护文件，文件可能被篡改或伪造，"
        "不能受理",
    ),
    "pdf.digest.no_range": ("no valid byte range", "签名范围无效，未检查文档摘要"),
    "pdf.digest.unreadable": ("the signature cannot be read", "签章无法读取，未检查文档摘要"),
    "pdf.digest.valid": (
        "the signed bytes are exactly what was sealed (SM3 matches)",
        "签章保护的内容与盖章时完全一致（SM3 摘要相符）",
    ),
    "pdf.digest.invalid": (
        "the signed bytes differ from what was sealed (SM3 does not match)",
        "签章保护的内容与盖章时不一致（SM3 摘要不符）：文件在盖章后被改动过，不能受理",
    ),
    "pdf.modifications.no_range": (
        "cannot tell what changed: the byte range is not valid",
        "签名范围无效，无法判断盖章后文件是否被改动",
    ),
    "pdf.modifications.none": (
        "nothing was changed after this seal{note}",
        "盖章后文件未被改动{note}",
    ),
    "pdf.modifications.whitespace": (
        " ({count} bytes of trailing whitespace ignored)",
        "（忽略了末尾 {count} 字节空白）",
    ),
    "pdf.modifications.seals_only": (
        "only further seals were added after this one, each verified: {seals}",
        "盖章后只加盖了其他签章（均已核验通过）：{seals}",
    ),
    "pdf.modifications.seal_added": (
        "revision {revision} adds seal field '{field}'",
        "第 {revision} 版加盖签章“{field}”",
    ),
    "pdf.modifications.changed": (
        "the document was changed after this seal: {problems}{more}",
        "盖章后文件被改动过（{count} 处）{kinds}，现在看到的内容可能与盖章时不同，不能受理"
        "{problems!d}",
    ),
    "pdf.modifications.more": (" (and {count} more)", ""),
    "pdf.modifications.kinds": ("", "：{kinds}"),
    "pdf.change.changed": ("changed", "盖章后文件内容被改动（对象被改写、删除或替换）"),
    "pdf.change.bytes": (
        "bytes",
        "盖章后追加的字节中有不属于任何已登记对象的内容（阅读器可能显示与核验不同的内容）",
    ),
    "pdf.change.shadow": ("shadow", "盖章前预留的空引用在盖章后被填入内容（影子攻击）"),
    "pdf.change.appearance": (
        "appearance",
        "盖章后加盖的签章超出允许的位置或大小（可能遮盖页面内容或之前的签章）",
    ),
    "pdf.change.redraw": (
        "redraw",
        "表单要求阅读器重新生成字段外观（/NeedAppearances），显示的内容可能与签章时不同",
    ),
    "pdf.change.not_seal": ("not_seal", "盖章后追加的内容不是完整的新签章"),
    "pdf.change.later_seal": ("later_seal", "盖章后加盖的签章本身核验不通过"),
    "pdf.change.unreadable": ("unreadable", "盖章后追加的内容无法读取"),
}
MESSAGES.update(PDF_DETAILS)
MESSAGES.update(OFD_MESSAGES)
LABELS.update(OFD_LABELS)
