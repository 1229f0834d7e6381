"""The messages of the verifier's own checks (certificate documents, QR codes, the chain, sealed
PDFs' anchors, resource limits), in English and Chinese, registered into the one catalogue
(:data:`seals.report.CATALOGUE`) when imported (:mod:`verifier.checks.verdict` imports it). The
conventions are those of :mod:`seals.messages`.
"""

from __future__ import annotations

import datetime as dt

from seals.report import Message, register

_UTC_ISO = "%Y-%m-%dT%H:%M:%S+00:00"
_BEIJING_ZH = "%Y-%m-%d %H:%M:%S（北京时间）"
_QR_ALONE_ZH = "请持证人出示电子证照文件或出示码再核验"
_NOT_AUTHORIZED_ZH = "：发证机关无权签发这份证照，不能受理"
_QR_NO_PROOF = (
    "; a QR carries no proof that its certificate was anchored while the key could be "
    "trusted, so it cannot be judged: ask for the certificate file or a presentation code"
)
_QR_NO_PROOF_ZH = (
    "：二维码本身无法证明证照是在密钥可信时上链的，仅凭二维码无法判断真伪；" + _QR_ALONE_ZH
)
_STATUS_EN = " in block {changed} (reason {code}: {reason})"
_STATUS_WHY_ZH = "（原因 {code}：{reason}），"

MESSAGES: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------ times, names
    "time.utc": (f"{{t:{_UTC_ISO}}}", f"{{t!b:{_BEIJING_ZH}}}"),
    "time.unix": ("unix time {t}", "Unix 时间 {t}"),
    "who.issuer": ("{issuer}", "{issuer}"),
    "who.named_issuer": ("{issuer}", "{name}（{issuer}）"),
    # ------------------------------------------------------------ the chain
    "chain.unreadable": (
        "could not read the chain: {error}",
        "无法读取区块链，暂时无法判断（{error}），请稍后重试或联系管理员",
    ),
    # why the chain could not be read, as a client may be told it: by the error's code, never
    # its text (which names the node's address); the text is logged and kept in the check's
    # data for the operator's own command line
    "chain.problem.chain_unavailable": (
        "the chain node did not answer (chain_unavailable)",
        "核验服务暂时连不上区块链",
    ),
    "chain.problem.indexer_lagging": (
        "the service's index of the chain is not current: the chain node does not answer, or "
        "the index is behind (indexer_lagging)",
        "核验服务暂时连不上区块链，或链上数据尚未同步到最新",
    ),
    "chain.problem.indexer_contended": (
        "the service's index of the chain is being updated (indexer_contended)",
        "核验服务的链上数据正在更新",
    ),
    "chain.problem.index_of_other_deployment": (
        "the service's index is of another deployment (index_of_other_deployment)",
        "核验服务的链上数据与所配置的区块链不符，需管理员处理",
    ),
    "chain.problem.database_unavailable": (
        "the service's database did not answer (database_unavailable)",
        "核验服务的数据库暂时无法访问",
    ),
    "chain.problem.rpc_error": (
        "the chain node answered with an error (rpc_error)",
        "区块链节点返回了错误",
    ),
    "chain.problem.bad_call_result": (
        "the chain's answer does not decode: is the contract deployed at the configured "
        "address on this chain? (bad_call_result)",
        "区块链的应答无法解读，合约可能未部署在所配置的地址，需管理员处理",
    ),
    "chain.problem.block_missing": (
        "the chain node does not have the block asked for (block_missing)",
        "区块链节点暂缺所需的区块",
    ),
    "chain.problem.block_changed": (
        "the chain changed while it was read (block_changed)",
        "读取期间区块链发生了变化",
    ),
    "chain.problem.configuration": (
        "the chain is not configured here ({code})",
        "此处未正确配置区块链，需管理员处理",
    ),
    "chain.problem.other": (
        "the chain could not be read ({code})",
        "读取区块链时出错",
    ),
    "chain.not_looked_up": (
        "nothing to look up: see the checks above",
        "未查询区块链：证照本身的检查未通过，见上方各项",
    ),
    "chain.elsewhere": (
        "anchored on chain {chain_id} contract {contract}; this verifier follows chain "
        "{our_chain_id} contract {our_contract}",
        "证照存证在链 {chain_id} 的合约 {contract} 上，而本核验服务跟随的是链 {our_chain_id} "
        "的合约 {our_contract}，无法判断；请到签发该证照的平台核验，或联系管理员",
    ),
    "chain.anchored.missing": (
        "the certificate's batch root is not on the chain",
        "区块链上（截至区块 {block}）查不到该证照所在的批次：证照未上链存证或已被篡改，不能受理",
    ),
    "chain.anchored.unconfirmed": (
        "the certificate's batch is said to be anchored in block {claimed}, after block "
        "{block}, the last with enough confirmations (the chain is at block {head}): not yet "
        "confirmed, check again shortly",
        "该证照所在批次声明于区块 {claimed} 上链，晚于已获足够确认的区块 {block}（链已到区块 "
        "{head}）：尚未确认，暂时无法核验，请稍后再核验",
    ),
    "chain.anchored.other_issuer": (
        "the batch was anchored by {anchorer}, not by the issuer the certificate names "
        "({issuer})",
        "该批次由 {anchorer} 上链，而不是证照所写的发证机关（{issuer}）："
        "证照可能是冒名签发的，不能受理",
    ),
    "chain.anchored.valid": (
        "anchored by {issuer} in block {block} at {when}",
        "已由 {issuer} 于区块 {block}（{when}）上链存证",
    ),
    # ------------------------------------------------------------ authorizations on chain
    "authority.unknown_type": (
        "type {code} is not in the certificate catalogue on chain",
        "证照类型 {code} 不在区块链上的证照目录中",
    ),
    "authority.withdrawn": (
        "type {code} ({name}) was withdrawn from the catalogue",
        "证照类型 {code}（{name}）已从证照目录中撤销",
    ),
    "authority.never": (
        "the issuer was never authorized for type {code} ({name})",
        "发证机关从未获授权签发证照类型 {code}（{name}）",
    ),
    "authority.not_granted": (
        "the issuer was not authorized for type {code} ({name}) in jurisdiction {jurisdiction} "
        "{at}",
        "发证机关{at}未获授权在行政区划 {jurisdiction} 签发证照类型 {code}（{name}）",
    ),
    "authority.not_now": ("not authorized now", "目前未获授权"),
    "authority.at.then": ("at that time", "当时"),
    "authority.at.now": ("now", "目前"),
    "authority.refused": (
        "{problem}: an admin authorizes it with `zhengyin issuer authorize --code {issuer} "
        "--type {type_code}`",
        "{problem}：可由管理员用 `zhengyin issuer authorize --code {issuer} --type {type_code}` "
        "授权",
    ),
    "issuer.authorized.not_anchored": ("not anchored", "证照未上链存证，未检查发证授权"),
    "issuer.key.not_anchored": ("not anchored", "证照未上链存证，未检查签名密钥"),
    "certificate.status.not_anchored": ("not anchored", "证照未上链存证，未检查证照状态"),
    "issuer.authorized.unreadable": (
        "the catalogue and the issuer's authorizations could not be read",
        "未能读取区块链上的证照目录和发证授权，暂时无法判断，请稍后重试或联系管理员",
    ),
    "issuer.authorized.unknown_type": (
        "{problem} when the batch was anchored ({when})",
        "证照类型 {type_code} 不在区块链上的证照目录中" + _NOT_AUTHORIZED_ZH,
    ),
    "issuer.authorized.withdrawn": (
        "{problem} when the batch was anchored ({when})",
        "证照类型“{type_name}”上链时已从证照目录中撤销" + _NOT_AUTHORIZED_ZH,
    ),
    "issuer.authorized.not_granted": (
        "{problem} when the batch was anchored ({when})",
        "该证照上链时（{when}），{issuer} 未获授权在行政区划 {jurisdiction} 签发“{type_name}”"
        + _NOT_AUTHORIZED_ZH,
    ),
    "issuer.authorized.valid": (
        "{issuer} was authorized for {type_code} ({type_name}) in {jurisdiction} when the batch "
        "was anchored",
        "上链时 {issuer} 已获授权在行政区划 {jurisdiction} 签发“{type_name}”",
    ),
    "issuer.key.unregistered": (
        "the signing key is not registered for {issuer}",
        "签名密钥不是 {issuer} 在区块链上登记的密钥，签名不可信，不能受理",
    ),
    "issuer.key.not_valid_then": (
        "the issuer's key was not valid when the batch was anchored (retired, not yet valid, or "
        "reported compromised before)",
        "上链时发证机关的签名密钥已不可用（已停用、尚未生效或此前已报告泄露），签名不可信，不能受理",
    ),
    "issuer.key.valid": (
        "a registered key of {issuer}, valid when anchored",
        "签名密钥是 {issuer} 在区块链上登记的密钥，上链时有效",
    ),
    "certificate.status.active": (
        "not revoked, suspended or superseded",
        "状态正常：截至区块 {block} 未被吊销、暂停或换发",
    ),
    "certificate.status.revoked": (
        "revoked" + _STATUS_EN,
        "已吊销：该证照已于区块 {changed} 被发证机关吊销" + _STATUS_WHY_ZH
        + "不能作为有效证照使用",
    ),
    "certificate.status.suspended": (
        "suspended" + _STATUS_EN,
        "已暂停：该证照已于区块 {changed} 被发证机关暂停使用" + _STATUS_WHY_ZH
        + "暂停期间不能作为有效证照使用，可请持证人联系发证机关",
    ),
    "certificate.status.superseded": (
        "superseded by a newer certificate" + _STATUS_EN,
        "已换发：该证照已于区块 {changed} 被新证照取代" + _STATUS_WHY_ZH
        + "不能再作为有效证照使用，请持证人出示新证照",
    ),
    # ------------------------------------------------------------ certificate documents
    "certificate.format.invalid": (
        "not a certificate document: {error}",
        "{why}，无法核验；请向持证人索取发证机关出具的原始证照文件{error!d}",
    ),
    "certificate.format.document_malformed": (
        "document_malformed",
        "这不是一份有效的电子证照文件（格式错误）",
    ),
    "certificate.format.document_version_unsupported": (
        "document_version_unsupported",
        "证照文件的格式版本不受本服务支持（旧版证照请向发证机关申请重新出具）",
    ),
    "certificate.format.claim_must_be_disclosed": (
        "claim_must_be_disclosed",
        "证照文件隐藏了证照标识、类型、发证机关或有效期，这些内容必须公开",
    ),
    "certificate.format.claims_inconsistent": (
        "claims_inconsistent",
        "证照文件的标识与其类型、发证机关或有效期不一致",
    ),
    "certificate.format.document_algorithm_unsupported": (
        "document_algorithm_unsupported",
        "证照文件使用了本服务不支持的算法（应为 SM2/SM3）",
    ),
    "certificate.format.unknown_path": ("unknown_path", "证照文件含有本服务不认识的字段"),
    "certificate.format.valid": (
        "a {format} certificate document",
        "证印链电子证照文件（{format} 格式）",
    ),
    "certificate.check_failed": (
        "the check failed unexpectedly: {error}",
        "该项检查意外出错，暂时无法判断，请联系管理员{error!d}",
    ),
    "certificate.integrity.invalid": (
        "{error}",
        "证照内容与其摘要不符：有字段的内容、盐值或隐藏摘要被改动过，证照已被篡改，不能受理{error!d}",
    ),
    "certificate.integrity.valid": (
        "all {count} fields match their digests",
        "全部 {count} 项内容与摘要一致，未被改动",
    ),
    "certificate.integrity.valid_hidden": (
        "all {count} fields match their digests; hidden by the holder: {paths}",
        "全部 {count} 项内容与摘要一致，未被改动；持证人未披露：{paths}",
    ),
    "certificate.signature.none": (
        "the certificate carries no issuer signature",
        "证照没有发证机关的签名，无法证明是发证机关签发的，不能受理",
    ),
    "certificate.signature.key_mismatch": (
        "the enclosed public key is not the key named by the key id",
        "证照所附的公钥与其密钥标识不符，签名不可信，证照可能被伪造，不能受理",
    ),
    "certificate.signature.unchecked": (
        "the issuer's SM2 signature could not be checked on this service ({code}: {error}); "
        "try again, or verify elsewhere",
        "本机无法核验发证机关的 SM2 签名（{code}），请稍后重试或换一台设备核验",
    ),
    "certificate.signature.invalid": (
        "the issuer's SM2 signature does not verify ({code})",
        "发证机关的 SM2 签名验证不通过（{code}）：证照内容被改动过或并非该机关签发，不能受理",
    ),
    "certificate.signature.valid": (
        "the issuer's SM2 signature over the certificate verifies",
        "发证机关对证照的 SM2 签名验证通过",
    ),
    "certificate.merkle_proof.not_anchored": (
        "the certificate has no anchor yet: it was issued but not anchored",
        "证照已签发但尚未上链存证，暂不能作为有效证照使用；请稍后再核验，或请持证人联系发证机关",
    ),
    "certificate.merkle_proof.invalid": (
        "{error}",
        "批次证明不成立：证照不属于它声称的上链批次，可能被篡改或拼接，不能受理{error!d}",
    ),
    "certificate.merkle_proof.valid": (
        "the certificate is in batch {root}…",
        "证照属于上链批次 {root}…",
    ),
    "certificate.validity.not_yet": (
        "not valid before {start}",
        "证照尚未生效：有效期自 {start} 起（今天是 {today}），目前不能作为有效证照使用",
    ),
    "certificate.validity.expired": (
        "expired on {end}",
        "证照已过期：有效期至 {end}（今天是 {today}），不能作为有效证照使用，请持证人办理换证",
    ),
    "certificate.validity.valid": (
        "valid from {start} until {end}",
        "在有效期内：{start} 至 {end}",
    ),
    "certificate.validity.valid_no_end": (
        "valid from {start} without end",
        "在有效期内：{start} 起长期有效",
    ),
    # ------------------------------------------------------------ QR codes
    "qr.format.invalid": ("{error}; nothing was checked", "{why}{error!d}"),
    "qr.format.qr_payload_invalid": (
        "qr_payload_invalid",
        "这不是证印链电子证照二维码（应以 ZY2. 开头），或二维码残缺、被改动，无法核验；"
        "请重新扫描，或请持证人重新出示",
    ),
    "qr.format.qr_version_unsupported": (
        "qr_version_unsupported",
        "二维码版本不受支持（仅支持 ZY2；旧版 ZY1 二维码不能证明其显示的证照标识），"
        "无法核验；请持证人出示电子证照文件或出示码",
    ),
    "qr.format.qr_not_anchored": ("qr_not_anchored", "该证照尚未上链，没有可核验的二维码"),
    "qr.format.valid": ("a Zhengyin ZY2 QR payload", "证印链电子证照二维码（ZY2 格式）"),
    "qr.signature.unchecked": (
        "the signature could not be checked on this service ({code}: {error}); try again, or "
        "verify elsewhere",
        "本机无法核验该二维码的签名（{code}），请稍后重试或换一台设备核验",
    ),
    "qr.signature.unpublished": (
        "no key that {issuer} published on chain verifies the signature, and it has {count} "
        "registered key(s) whose public key it never published: the signature cannot be "
        "checked; ask for the certificate file or a presentation code",
        "{who} 在区块链上登记了未公布公钥的签名密钥，无法核验该二维码的签名；" + _QR_ALONE_ZH,
    ),
    "qr.signature.invalid": (
        "no key that {issuer} published on chain verifies the signature over the identifier, "
        "jurisdiction, validity and leaf this QR shows",
        "{who} 在区块链上登记的密钥都不能验证该二维码的签名：二维码显示的证照标识、"
        "行政区划、有效期或内容被改动过，或是伪造的，不能受理",
    ),
    "qr.signature.valid": (
        "{issuer} signed this identifier, jurisdiction, validity and leaf with a key it "
        "published on chain",
        "{who} 使用其在区块链上登记的密钥签署了二维码显示的证照标识、行政区划、有效期和内容摘要",
    ),
    "qr.key.unchecked": (
        "which key signed cannot be told: the signature could not be checked on this service",
        "无法确定签名所用的密钥（本机无法核验签名），未判断",
    ),
    "qr.key.unpublished": (
        "which key signed cannot be told: the issuer did not publish every key",
        "无法确定签名所用的密钥（发证机关有未公布公钥的密钥），未判断",
    ),
    "qr.key.compromised": (
        "the signing key was reported compromised (cut-off {when})" + _QR_NO_PROOF,
        "该二维码的签名密钥已被报告泄露（截止时间 {when}）" + _QR_NO_PROOF_ZH,
    ),
    "qr.key.out_of_service": (
        "the signing key is not in service now (valid until {when})" + _QR_NO_PROOF,
        "该二维码的签名密钥已停用或尚未启用（有效期至 {when}）" + _QR_NO_PROOF_ZH,
    ),
    "qr.authority_ended": (
        "{problem}: a QR code alone cannot show the certificate was issued while it was; ask "
        "for the certificate file or a presentation code",
        "发证机关目前未获授权签发该类证照（授权已终止或证照类型已撤销），仅凭二维码无法确认"
        "证照签发于授权期内；" + _QR_ALONE_ZH,
    ),
    # ------------------------------------------------------------ short codes (核验码)
    "short_code.unreadable": (
        "{error}; nothing was checked",
        "核验码无法识别，无法核验；请对照证照上印的核验码重新输入，或扫描二维码{error!d}",
    ),
    "short_code.mismatch": (
        "the short code matches no certificate held by this service (a typing error, or the "
        "code of another version); nothing was checked: re-type it",
        "核验码与本平台存档的证照不符（可能输入有误，或是其他版本证照的核验码），无法核验；"
        "请对照证照上印的核验码重新输入，或扫描二维码",
    ),
    "short_code.pending": (
        "certificate {identifier} is not anchored on chain yet; check again shortly",
        "证照 {identifier} 尚未上链存证，暂时无法核验；请稍后再核验",
    ),
    "short_code.matched": (
        "the short code names certificate {identifier} held by this service: its stored "
        "document is verified in full below",
        "核验码与本平台存档的证照 {identifier} 相符，以下按存档的证照数据逐项核验",
    ),
    # ------------------------------------------------------------ sealed PDFs, files
    "pdf.in_field": ("[{field}] {check}", "[{field}] {check}"),
    "pdf.anchored.no_chain": (
        "no chain is configured here to look it up",
        "此处没有配置区块链，未查询该签章是否上链存证",
    ),
    "pdf.anchored.no_range": (
        "not looked up: the signature's byte range is not valid",
        "签章的签名范围无效，未查询链上存证",
    ),
    "pdf.anchored.unreadable": (
        "could not read the chain: {error}",
        "无法读取区块链（{error}），暂时无法判断该签章是否上链存证，请稍后重试或联系管理员",
    ),
    "pdf.anchored.missing": (
        "this sealed document was not anchored on chain",
        "区块链上查不到这份盖章文件的存证：文件不是发证机关登记过的盖章文件，或盖章后被改动过，"
        "不能受理",
    ),
    "pdf.anchored.valid": (
        "anchored by {issuer} in block {block} at {when}",
        "已由 {issuer} 于区块 {block}（{when}）上链存证",
    ),
    "pdf.anchored.other_issuer": (
        "the sealed certificate file was anchored by {issuer} in block {block} at {when}, not "
        "by the certificate's issuer {certificate_issuer}: its issuer never vouched for this "
        "file, whatever its pages show",
        "这份盖章证照文件由 {issuer} 于区块 {block}（{when}）上链存证，而不是由证照的发证机关 "
        "{certificate_issuer} 存证：发证机关从未出具过这份文件，页面内容不可信，不能受理；"
        "请索取发证机关出具的原始文件",
    ),
    "pdf.unreadable": (
        "the PDF cannot be read: {error}",
        "{why}，不能受理；请索取发证机关出具的原始文件"
        "{error!d}",
    ),
    "pdf.unreadable.pdf_malformed": (
        "malformed",
        "PDF 文件已损坏或格式不正确（或被构造成不同阅读器会显示不同内容），无法可靠读取",
    ),
    "pdf.unreadable.pdf_encrypted": (
        "encrypted",
        "PDF 文件已加密，无法核验；请索取未加密的盖章文件",
    ),
    "pdf.unreadable.pdf_too_large": ("too large", "PDF 文件过大，超出本服务的处理上限"),
    "pdf.unreadable.pdf_hostile": (
        "hostile",
        "PDF 文件结构异常（像是为耗尽资源而构造的文件），已拒绝读取",
    ),
    "pdf.unreadable.other": ("unreadable", "PDF 文件无法读取"),
    "pdf.embedded_unreadable": (
        "the PDF's embedded files cannot be read: {error}",
        "无法读取该PDF内嵌的文件（其中可能有电子证照），不能据此受理",
    ),
    "file.resources.verify_busy": (
        "{error}",
        "正在核验的文件过多，暂时无法核验；请稍后重试（技术细节：{error}）",
    ),
    "file.resources.verify_timeout": (
        "{error}",
        "核验超时，已中止：文件过于复杂，或像是为耗尽资源而构造的，无法核验；"
        "请索取发证机关出具的原始文件，或联系管理员（技术细节：{error}）",
    ),
    "file.resources.verify_memory": (
        "{error}",
        "核验所需内存超出上限，已中止：文件过于复杂，或像是为耗尽资源而构造的，无法核验；"
        "请索取发证机关出具的原始文件，或联系管理员（技术细节：{error}）",
    ),
    "file.resources.other": (
        "{error}",
        "读取文件的进程意外结束：文件过于复杂，或像是为耗尽资源而构造的，无法核验；"
        "请索取发证机关出具的原始文件，或联系管理员（技术细节：{error}）",
    ),
}

register(MESSAGES)


_CHAIN_PROBLEMS = frozenset(
    k.removeprefix("chain.problem.") for k in MESSAGES if k.startswith("chain.problem.")
)
_CONFIGURATION = frozenset(
    {"no_chain", "bad_rpc_url", "bad_configuration", "not_deployed"}
)


def chain_problem(error: BaseException | str | None) -> Message:
    """Why the chain (or the service's index of it) could not be read, as a client may be
    told: chosen by the error's stable code, never its text, which names the chain node's
    address (and a provider's URL may carry a token)."""
    code = getattr(error, "code", None)
    code = code if isinstance(code, str) and code else "chain_error"
    if code == "devnet_not_running":
        code = "chain_unavailable"
    if code in _CHAIN_PROBLEMS - {"configuration", "other"}:
        return Message(f"chain.problem.{code}")
    if code in _CONFIGURATION:
        return Message("chain.problem.configuration", {"code": code})
    return Message("chain.problem.other", {"code": code})


def chain_time(timestamp: int) -> Message:
    """A chain time, as ISO 8601 in English and as the counter reads it in Chinese (a time no
    calendar holds is shown as its number, never an error)."""
    try:
        when = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return Message("time.unix", {"t": timestamp})
    return Message("time.utc", {"t": when})
