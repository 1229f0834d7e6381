"""The messages that say in detail what is wrong with a sealed PDF, in English and Chinese:
what is wrong with a signature's byte range (``pdf.byte_range.*``, the ``why`` of
``pdf.byte_range.invalid``) and what a revision after a seal did (``pdf.problem.*``, the
technical detail of ``pdf.modifications.changed``). Part of :data:`seals.messages.MESSAGES`.
"""

from __future__ import annotations

PDF_DETAILS: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------ byte ranges
    "pdf.byte_range.none": (
        "the signature has no /ByteRange: it protects nothing",
        "签章没有 /ByteRange，不保护任何内容",
    ),
    "pdf.byte_range.no_contents": (
        "the signature has no /Contents: there is no signature",
        "签章没有 /Contents，其中没有签名值",
    ),
    "pdf.byte_range.not_four": (
        "/ByteRange is not four integers: {value}",
        "/ByteRange 不是四个整数：{value}",
    ),
    "pdf.byte_range.not_at_start": (
        "/ByteRange starts at byte {start}, not 0: the file's start is not covered",
        "/ByteRange 从第 {start} 字节而不是第 0 字节开始，文件开头未受保护",
    ),
    "pdf.byte_range.outside": (
        "/ByteRange points outside the file or its ranges overlap",
        "/ByteRange 指向文件之外，或其范围相互重叠",
    ),
    "pdf.byte_range.gap_not_hex": (
        "the gap in /ByteRange is not a hex string: bytes are left unprotected",
        "/ByteRange 留出的空隙不是十六进制字符串，有字节未受保护",
    ),
    "pdf.byte_range.gap_not_contents": (
        "the gap in /ByteRange is not this signature's /Contents (signature wrapping?)",
        "/ByteRange 留出的空隙不是该签章的 /Contents（疑似签名包装攻击）",
    ),
    "pdf.byte_range.not_revision_end": (
        "the signed range ends at byte {end}, which is not the end of a revision (%%EOF): "
        "the signature does not cover its own revision",
        "签名范围止于第 {end} 字节，不是某一版本的结尾（%%EOF），签章没有覆盖其所在的版本",
    ),
    "pdf.byte_range.not_in_chain": (
        "the signed revision is not a revision of this file's cross-reference chain: the file "
        "was rewritten after sealing",
        "签章所在的版本不在该文件的交叉引用链中，文件在盖章后被重写过",
    ),
    "pdf.byte_range.refers_after": (
        "the signed revision refers to bytes after its end",
        "签章所在的版本引用了其结尾之后的字节",
    ),
    "pdf.byte_range.revision_unreadable": (
        "the signed revision cannot be read: {error}",
        "签章所在的版本无法读取{error!d}",
    ),
    "pdf.byte_range.not_in_revision": (
        "the signature dictionary is not an uncompressed object of the signed revision",
        "签名字典不是签章所在版本中的未压缩对象",
    ),
    "pdf.byte_range.no_field": (
        "the signed revision has no signature field with this signature",
        "签章所在的版本中没有含该签名的签名字段",
    ),
    "pdf.byte_range.dictionary_unreadable": (
        "the signature dictionary cannot be read: {error}",
        "签名字典无法读取{error!d}",
    ),
    "pdf.byte_range.gap_misplaced": (
        "the gap is not where this signature dictionary keeps /Contents",
        "留出的空隙不在该签名字典存放 /Contents 的位置",
    ),
    "pdf.byte_range.dictionary_differs": (
        "the signature dictionary differs from the one the range was made for",
        "签名字典与签名范围所针对的签名字典不同",
    ),
    "pdf.byte_range.trailing": (
        "/Contents holds bytes after the signature",
        "/Contents 中签名值之后还有多余的字节",
    ),
    "pdf.byte_range.other_range": (
        "the signature protects {protects}, not {expected!r}",
        "签章声明保护的是 {protects}，而不是 {expected}",
    ),
    # ------------------------------------------------------------ revisions after a seal
    "pdf.problem.in_revision": ("revision {revision}: {problem}", "第 {revision} 版：{problem}"),
    # where a later seal may go (seals.pdf.placement), each the problem of pdf.problem.of_seal
    "pdf.placement.outside": (
        "it lies (partly) outside the page's crop box", "它（部分）位于页面裁剪框之外"
    ),
    "pdf.placement.too_large": (
        "it covers {share} of the page (at most {most} is allowed after an earlier seal)",
        "它覆盖了页面的 {share}（已有签章后，至多允许 {most}）",
    ),
    "pdf.placement.over_earlier": (
        "it covers an earlier seal on its page", "它覆盖了本页上已有的签章"
    ),
    # a revision's bytes do not tile (seals.pdf.integrity.tile)
    "pdf.tile.overlap": (
        "object {num} at byte {offset} overlaps what comes before it (or lies outside this "
        "revision, which starts at byte {start})",
        "第 {offset} 字节处的对象 {num} 与其前面的内容重叠"
        "（或位于从第 {start} 字节开始的本版本之外）",
    ),
    "pdf.tile.gap": (
        "bytes {first}–{last} are not an object listed in the revision's cross-reference "
        "section",
        "第 {first}–{last} 字节不是本版本交叉引用表所列的对象",
    ),
    "pdf.tile.no_endobj": (
        "object {num} at byte {offset} does not end with 'endobj'",
        "第 {offset} 字节处的对象 {num} 没有以 endobj 结束",
    ),
    "pdf.tile.xref_overlap": (
        "the cross-reference section at byte {offset} overlaps the revision's objects or lies "
        "outside the revision",
        "第 {offset} 字节处的交叉引用表与本版本的对象重叠，或位于本版本之外",
    ),
    "pdf.tile.no_tail": (
        "the cross-reference section at byte {offset} is not followed by 'startxref' naming "
        "it and '%%EOF'",
        "第 {offset} 字节处的交叉引用表之后没有指向它的 startxref 和 %%EOF",
    ),
    "pdf.problem.root_replaced": (
        "the document catalog (/Root) was replaced",
        "文档目录（/Root）被替换",
    ),
    "pdf.problem.info_replaced": (
        "the document information (/Info) was replaced",
        "文档信息（/Info）被替换",
    ),
    "pdf.problem.deleted": ("object {n} was deleted", "对象 {n} 被删除"),
    "pdf.problem.new_generation": (
        "object {n} was rewritten as generation {gen} (it was {old}): references to it now "
        "name a missing object",
        "对象 {n} 被改写为第 {gen} 代（原为第 {old} 代），指向它的引用现在指向不存在的对象",
    ),
    "pdf.problem.no_seal": (
        "it adds no signed signature field: not a seal",
        "该版本没有加入已签名的签名字段，不是盖章",
    ),
    "pdf.problem.shadow": (
        "object {n} was referred to but undefined in an earlier revision, and is defined here "
        "(shadow attack)",
        "对象 {n} 在之前的版本中被引用但未定义，在此版本中才被定义（影子攻击）",
    ),
    "pdf.problem.unsigned_field": (
        "signature field {n} was added without a new signature",
        "加入了签名字段 {n}，但没有新的签名",
    ),
    "pdf.problem.field_hierarchy": (
        "seal field {n} is part of a field hierarchy",
        "签章字段 {n} 属于字段层级结构",
    ),
    "pdf.problem.range_end": (
        "the signature of seal field '{name}' does not end where this revision ends (byte {end})",
        "签章字段“{name}”的签名没有止于该版本的结尾（第 {end} 字节）",
    ),
    "pdf.problem.object_changed": ("object {n} ({what}) was changed", "对象 {n}（{what}）被改动"),
    "pdf.problem.keys": ("{keys}", "{keys}"),
    "pdf.problem.keys_more": ("{keys} and {more} more", "{keys} 等共 {total} 项"),
    "pdf.problem.catalog_changed": (
        "the document catalog was changed ({changes})",
        "文档目录被改动（{changes}）",
    ),
    "pdf.problem.form_changed": ("the form (object {n}) was changed", "表单（对象 {n}）被改动"),
    "pdf.problem.page_changed": (
        "page object {n} was changed ({changes})",
        "页面对象 {n} 被改动（{changes}）",
    ),
    "pdf.problem.kind_changed": (
        "object {n} ({kind}) was changed ({changes})",
        "对象 {n}（{kind}）被改动（{changes}）",
    ),
    "pdf.problem.other_changed": (
        "object {n} was changed ({changes})",
        "对象 {n} 被改动（{changes}）",
    ),
    "pdf.problem.unknown_page": (
        "the page of signature field {n} is unknown",
        "签名字段 {n} 所在的页面未知",
    ),
    "pdf.problem.no_media_box": (
        "page object {n} has no usable /MediaBox",
        "页面对象 {n} 没有可用的 /MediaBox",
    ),
    "pdf.problem.no_rect": ("seal '{name}' has no usable /Rect", "签章“{name}”没有可用的 /Rect"),
    "pdf.problem.of_seal": ("seal '{name}': {problem}", "签章“{name}”：{problem}"),
    "pdf.problem.not_form": (
        "its appearance (/AP /N) is not a form XObject",
        "其外观（/AP /N）不是表单 XObject",
    ),
    "pdf.problem.no_bbox": ("its appearance has no usable /BBox", "其外观没有可用的 /BBox"),
    "pdf.problem.bad_matrix": (
        "its appearance has an unusable /Matrix",
        "其外观的 /Matrix 不可用",
    ),
    "pdf.problem.form_unreadable": (
        "the form cannot be read: {error}",
        "表单无法读取{error!d}",
    ),
    "pdf.problem.redraw": (
        "the form asks viewers to redraw its fields (/NeedAppearances {flag}): they show the "
        "fields' values drawn anew, and no seal in poppler",
        "表单要求阅读器重新绘制其字段（/NeedAppearances {flag}）：显示的是重新绘制的字段值，"
        "poppler 中不显示签章",
    ),
    "pdf.problem.sealed_defines": (
        "the sealed revision defines object {n}, which the document referred to before without "
        "defining it (what it showed changed)",
        "盖章的版本定义了对象 {n}，而文档此前引用了它却未定义（文档显示的内容因此改变）",
    ),
    "pdf.problem.previous_end": (
        "the revision before it does not end with 'startxref' naming its cross-reference "
        "section and '%%EOF' (byte {end})",
        "它之前的版本没有以指向其交叉引用段的 startxref 和 %%EOF 结尾（第 {end} 字节）",
    ),
    "pdf.problem.own_end": (
        "its cross-reference section (byte {offset}) is not followed by 'startxref' naming it "
        "and '%%EOF'",
        "其交叉引用段（第 {offset} 字节）之后没有指向它的 startxref 和 %%EOF",
    ),
    "pdf.problem.unreadable": ("it cannot be read: {error}", "该版本无法读取{error!d}"),
    "pdf.problem.after_last": (
        "{count} bytes after the end of the last revision",
        "最后一个版本结尾之后还有 {count} 字节",
    ),
    "pdf.problem.after_sealed": (
        "{count} bytes after the sealed revision that are no revision",
        "盖章的版本之后有 {count} 字节不属于任何版本",
    ),
    "pdf.problem.inside_sealed": (
        "revision {revision} is written inside the sealed bytes",
        "第 {revision} 版写在了盖章保护的字节之内",
    ),
    "pdf.problem.later_seal": (
        "revision {revision}: the seal '{label}' it adds does not verify",
        "第 {revision} 版加盖的签章“{label}”核验不通过",
    ),
}
