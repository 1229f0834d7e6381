"""The messages of sealed-OFD checks and of OFD packages refused, in English and Chinese
(part of :data:`seals.messages.MESSAGES`). ``ofd.unreadable.<code>`` says, for the clerk,
why a package was refused (each :class:`seals.ofd.errors.OfdError` code has one)."""

from __future__ import annotations

OFD_LABELS: dict[str, str] = {
    "ofd.structure": "OFD 结构",
    "ofd.signatures": "OFD 签章",
    "ofd.files": "OFD 文件完整性",
    "ofd.signature": "签名描述文件",
    "ofd.references": "受保护文件摘要",
    "ofd.seal_file": "印章文件",
    "ofd.stamp": "签章位置",
    "ofd.modifications": "签章后修改",
    "ofd.anchored": "链上存证",
}

_REFUSED = "，不能受理"

OFD_MESSAGES: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------ the package
    "ofd.structure.valid": (
        "an OFD package of {size} bytes with {files} file(s) and {documents} document(s)",
        "OFD 文件，{size} 字节，包内 {files} 个文件，{documents} 个文档",
    ),
    "ofd.unreadable": (
        "the OFD package cannot be read: {error}",
        "OFD 文件无法读取：{why}{_REFUSED}{error!d}".replace("{_REFUSED}", _REFUSED),
    ),
    "ofd.unreadable.ofd_malformed": ("malformed", "文件不是可以严格读取的 OFD 文件"),
    "ofd.unreadable.ofd_not_zip": ("not a zip", "文件不是完整的 OFD（ZIP）压缩包"),
    "ofd.unreadable.ofd_zip_inconsistent": (
        "inconsistent zip",
        "压缩包的目录与内容不一致（不同软件可能读出不同的内容）",
    ),
    "ofd.unreadable.ofd_bad_name": (
        "bad entry name",
        "压缩包中有非法的文件名（绝对路径、“..”、反斜杠或盘符等）",
    ),
    "ofd.unreadable.ofd_duplicate_name": (
        "duplicate entry name",
        "压缩包中有重名的文件（或仅大小写不同）",
    ),
    "ofd.unreadable.ofd_zip_method": ("compression method", "压缩包使用了不支持的压缩方式"),
    "ofd.unreadable.ofd_zip64": ("ZIP64", "压缩包使用了本服务不接受的 ZIP64 格式"),
    "ofd.unreadable.ofd_xml_malformed": ("malformed XML", "包内的 XML 文件格式错误"),
    "ofd.unreadable.ofd_xml_encoding": ("XML encoding", "包内的 XML 文件不是 UTF-8 编码"),
    "ofd.unreadable.ofd_bad_path": ("bad location", "文件中的路径不合法或指向包外"),
    "ofd.unreadable.ofd_missing_file": (
        "missing file",
        "文件缺少必需的组成部分（如 OFD 入口文件或签章文件）",
    ),
    "ofd.unreadable.ofd_bad_structure": ("bad structure", "OFD 文档结构不符合标准"),
    "ofd.unreadable.ofd_certificate_attachment": (
        "the attached certificate document is not one file",
        "附带的电子证照数据不止一份或缺失，无法确定核验哪一份",
    ),
    "ofd.unreadable.ofd_encrypted": ("encrypted", "压缩包内有加密的文件"),
    "ofd.unreadable.ofd_too_large": ("too large", "文件过大，超出本服务的处理上限"),
    "ofd.unreadable.ofd_hostile": ("hostile", "文件超出本服务的处理上限（疑似恶意构造）"),
    "ofd.unreadable.ofd_zip_bomb": ("zip bomb", "压缩包的压缩比异常（疑似“压缩炸弹”）"),
    "ofd.unreadable.ofd_too_many_entries": ("too many entries", "压缩包内的文件数量过多"),
    "ofd.unreadable.ofd_xml_too_deep": ("XML too deep", "XML 文件嵌套层数过深（疑似恶意构造）"),
    "ofd.unreadable.ofd_xml_dtd": (
        "DTD",
        "XML 文件含有文档类型声明（DTD），OFD 不需要，疑似恶意构造",
    ),
    "ofd.unreadable.ofd_xml_entity": (
        "entity declaration",
        "XML 文件含有实体声明（可用于读取外部文件或“实体爆炸”），疑似恶意构造",
    ),
    "ofd.unreadable.ofd_xml_too_large": ("XML too large", "XML 文件过大"),
    "ofd.unreadable.other": ("unreadable", "OFD 文件无法读取"),
    # ------------------------------------------------------------ the document
    "ofd.signatures.valid": (
        "{count} seal signature(s): {fields}",
        "共 {count} 个电子签章：{fields}",
    ),
    "ofd.signatures.none": (
        "the OFD carries no GB/T 38540 seal signature",
        "该 OFD 文件没有电子签章，无法核验盖章；请索取盖章后的文件",
    ),
    "ofd.signatures.unsealed": (
        "the package holds documents without a seal: {documents}",
        "文件中有未盖章的文档：{documents}，阅读器可能显示其中任一文档，不能受理",
    ),
    "ofd.files.valid": (
        "every file of the package is protected by a seal or belongs to one, and every file "
        "the document refers to is present",
        "包内每个文件都受签章保护（或属于签章本身），文档引用的文件齐全",
    ),
    "ofd.files.invalid": (
        "{problems}",
        "包内有不受任何签章保护的文件，或文档引用的文件缺失：现在看到的内容可能不是盖章时的"
        "内容{_R}{problems!d}".replace("{_R}", _REFUSED),
    ),
    "ofd.files.unprotected": (
        "'{file}' is protected by no seal",
        "“{file}”不受任何签章保护",
    ),
    "ofd.files.missing": (
        "'{file}' (referred to by {referrer}) is missing",
        "“{file}”（{referrer} 引用）缺失",
    ),
    # ------------------------------------------------------------ each signature
    "ofd.signature.valid": (
        "{path}: {references} reference(s), signed value {signed_value}",
        "签名描述文件 {path}：保护 {references} 个文件，签名值 {signed_value}",
    ),
    "ofd.references.valid": (
        "the {count} protected file(s) are exactly what was sealed (SM3 matches)",
        "签章保护的 {count} 个文件与盖章时完全一致（SM3 摘要相符）",
    ),
    "ofd.references.none": (
        "the signature protects no file",
        "签章不保护任何文件{_R}".replace("{_R}", _REFUSED),
    ),
    "ofd.references.invalid": (
        "{problems}",
        "签章保护的文件在盖章后被改动或缺失{_R}{problems!d}".replace("{_R}", _REFUSED),
    ),
    "ofd.references.method": (
        "check method {method!r} is not SM3",
        "摘要算法 {method} 不是 SM3",
    ),
    "ofd.references.changed": ("'{file}' changed after sealing (SM3 differs)",
                               "“{file}”盖章后被改动（SM3 摘要不符）"),
    "ofd.references.missing": ("'{file}' is missing", "“{file}”缺失"),
    "ofd.references.bad_path": ("FileRef {file!r} is not a plain path",
                                "FileRef“{file}”不是合法路径"),
    "ofd.references.bad_value": ("the CheckValue of '{file}' is not base64",
                                 "“{file}”的摘要值（CheckValue）无法解码"),
    "ofd.seal_file.valid": (
        "{file} is the seal inside the signature",
        "印章文件 {file} 与签章中的印章一致",
    ),
    "ofd.seal_file.invalid": (
        "{file} differs from the seal inside the signature",
        "印章文件 {file} 与签章中的印章不一致（印章或印章图片被替换）{_R}".replace(
            "{_R}", _REFUSED),
    ),
    "ofd.stamp.valid": (
        "stamp {count} time(s), inside its page(s): {where}",
        "签章外观 {count} 处，均在页面范围内：{where}",
    ),
    "ofd.stamp.at": ("page {page} at {boundary} mm", "第 {page} 页 {boundary} 毫米"),
    "ofd.stamp.none": (
        "the signature draws no stamp (no StampAnnot)",
        "签章没有外观（没有 StampAnnot），页面上看不到印章",
    ),
    "ofd.stamp.invalid": (
        "{problems}",
        "签章外观的位置不正确：{problems}{_R}".replace("{_R}", _REFUSED),
    ),
    "ofd.stamp.no_page": ("StampAnnot {id} names page {page}, which the document lacks",
                          "签章外观 {id} 指向不存在的页面 {page}"),
    "ofd.stamp.outside": (
        "StampAnnot {id} ({boundary}) is not inside page {page} ({page_box})",
        "签章外观 {id}（{boundary}）超出第 {page} 页的范围（{page_box}）",
    ),
    "ofd.stamp.too_large": (
        "StampAnnot {id} covers {share} of page {page}; with several seals at most {limit}",
        "签章外观 {id} 占第 {page} 页的 {share}，文件有多个签章时每个最多占 {limit}"
        "（可能遮盖页面内容）",
    ),
    "ofd.stamp.overlaps": (
        "StampAnnot {id} on page {page} overlaps a stamp of {other}",
        "第 {page} 页的签章外观 {id} 与 {other} 的签章外观重叠（可能遮盖之前的印章）",
    ),
    "ofd.stamp.no_box": ("StampAnnot {id} has no usable Boundary or page box",
                         "签章外观 {id} 没有可用的位置或页面大小"),
    "ofd.modifications.none": (
        "every file of the document is protected by this seal; {later}",
        "文档的每个文件都受该签章保护{later}",
    ),
    "ofd.modifications.only_signatures": (
        "no other file was added",
        "，此后未加入其他文件",
    ),
    "ofd.modifications.later": (
        "files of later seals: {files}",
        "；此后只加入了其他签章的文件：{files}",
    ),
    "ofd.modifications.changed": (
        "document files this seal does not protect (added or changed after it): {files}",
        "文档中有该签章不保护的文件（盖章后加入或替换）：现在看到的内容可能与盖章时不同"
        "{_R}{files!d}".replace("{_R}", _REFUSED),
    ),
    # ------------------------------------------------------------ the chain
    "ofd.anchored.no_chain": (
        "no chain is configured here to look up the sealed file",
        "此处没有配置区块链，未查询这份盖章文件是否上链存证",
    ),
    "ofd.anchored.unreadable": (
        "could not read the chain: {error}",
        "无法读取区块链（{error}），暂时无法判断这份盖章文件是否上链存证，请稍后重试或联系管理员",
    ),
    "ofd.anchored.missing": (
        "this sealed OFD file (as a whole, after its last seal) was not anchored on chain",
        "区块链上查不到这份盖章文件（最后一次盖章后的整个文件）的存证：文件不是发证机关登记过的"
        "盖章文件，或盖章后被改动过，不能受理",
    ),
    "ofd.anchored.valid": (
        "the whole file anchored by {issuer} in block {block} at {when}",
        "整个文件已由 {issuer} 于区块 {block}（{when}）上链存证",
    ),
    "ofd.anchored.other_issuer": (
        "the whole certificate file was anchored by {issuer} in block {block} at {when}, not "
        "by the certificate's issuer {certificate_issuer}: its issuer never vouched for this "
        "file, whatever its pages show",
        "这份盖章证照文件由 {issuer} 于区块 {block}（{when}）上链存证，而不是由证照的发证机关 "
        "{certificate_issuer} 存证：发证机关从未出具过这份文件，页面内容不可信，不能受理；"
        "请索取发证机关出具的原始文件",
    ),
}
