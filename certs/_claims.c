/*
 * certs._claims — the native fast path of the claims and the Merkle tree, selected by
 * certs/formats.py: in one C call every claim's salted digest,
 * the certificate's leaf and the JCS text of the document's "claims" object, with SM3
 * (GB/T 32905) in portable C (certs/_sm3_impl.h, included here). No dependencies beyond
 * CPython (no OpenSSL); plain C99.
 *
 * What it computes (certs/canonical.py, module docstring items 1-4 and 7, is the
 * specification; certs.claims.issue_claims_reference is the reference implementation and
 * tests/certs/test_claims_native.py and test_formats.py hold the two equal byte for byte)
 *   issue_claims(values, salts_hex) with values = claims_of(certificate) (path -> value) and
 *   salts_hex the hex text of 16 random bytes per claim, in the dict's order. For claim i
 *   (path p, value v, salt s = salts_hex[32i : 32i + 32]):
 *       P = JSON string of p, V = JSON of v ("..." | null | [ "...", ... ])
 *       claim digest_i = SM3( ["s",P,V] )                              (UTF-8)
 *       member_i       = P:{"salt":"s","value":V}
 *   and, with the claims sorted by path,
 *       leaf        = SM3( "zhengyin:leaf:v1" || u16be(len(utf8 p)) || utf8 p || digest ... )
 *       claims_json = { member, member, ... }
 *   The leaf wants the paths in code-point order, JCS in UTF-16 code-unit order; the two are
 *   the same unless a path holds a character beyond the BMP, and code-point order is the
 *   byte order of UTF-8, so one memcmp sort of the UTF-8 paths serves both.
 *
 * JSON strings are written exactly as CPython's json.encoder.encode_basestring (c_encode_
 * basestring, the variant that keeps non-ASCII): " \ \b \t \n \f \r escaped short, the other
 * code points below U+0020 as \u00xx with lower-case hex, everything else (U+007F and all
 * non-ASCII included) as is. That is RFC 8785's rule too. Escaping works on the UTF-8 bytes:
 * every byte that needs it is ASCII, and no byte of a multi-byte sequence is below 0x80.
 *
 * The common case only. For anything else the function returns None and the Python code
 * runs (and raises the proper CanonicalizationError where there is one):
 *   - a dict subclass, a key or value that is a str subclass, a value that is not str,
 *     None or an exact tuple of exact str (the Python path hands those to the general jcs);
 *   - text that has no UTF-8 form (a lone surrogate: PyUnicode_AsUTF8AndSize fails; the
 *     error is cleared);
 *   - a path beyond the BMP (UTF-16 order differs) or longer than 65,535 UTF-8 bytes;
 *   - salts_hex not ASCII or not 32 characters per claim;
 *   - output sizes that would not fit a Py_ssize_t.
 * TypeError only when values is not a dict or salts_hex not a str; MemoryError when an
 * allocation fails.
 *
 * Memory
 *   Two passes. The first checks every claim, keeps pointers to the UTF-8 of its path and
 *   value (cached in the str objects, which the caller's dict keeps alive) and adds up the
 *   exact byte length of the output with checked arithmetic. The second writes into one
 *   buffer of exactly that size and checks, at the end, that it wrote exactly that much.
 *   Between the passes no Python code can run (no object is allocated, so the cyclic GC
 *   cannot start and no finalizer can touch the dict), so the borrowed pointers stay valid.
 *
 * The GIL is held throughout.
 *
 * SM3 is compiled in for these two functions (one C call per certificate or batch); sm3()
 * is exported only so that the tests can hold this SM3 equal to the reference at every
 * length. It is not an SM3 entry point of the project (that is the SM3 module's).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_sm3_impl.h"

/* -------------------------------------------------------------------------- JSON strings */

/* The JSON length of each byte of UTF-8 text: 1, 2 (\" \\ \b \t \n \f \r) or 6 (\u00xx);
 * filled at import. */
static u8 ESCAPED_LEN[256];

static void json_init_tables(void)
{
    for (int c = 0; c < 256; c++)
        ESCAPED_LEN[c] = c < 0x20 ? 6 : 1;
    ESCAPED_LEN['"'] = ESCAPED_LEN['\\'] = 2;
    ESCAPED_LEN['\b'] = ESCAPED_LEN['\t'] = ESCAPED_LEN['\n'] = 2;
    ESCAPED_LEN['\f'] = ESCAPED_LEN['\r'] = 2;
}

/* Text longer than this could make a JSON length (at most 6 bytes per byte, plus quotes)
 * overflow a Py_ssize_t; such text is left to the Python code. */
#define MAX_TEXT ((PY_SSIZE_T_MAX - 2) / 6)

/* The byte length of the JSON string of UTF-8 text s[0..n) (quotes included), with n <=
 * MAX_TEXT; *plain is set to whether no byte needs escaping. */
static size_t json_len(const u8 *s, Py_ssize_t n, int *plain)
{
    size_t len = (size_t)n + 2;
    for (Py_ssize_t i = 0; i < n; i++)
        len += ESCAPED_LEN[s[i]] - 1u;
    *plain = len == (size_t)n + 2;
    return len;
}

/* Writes the JSON string of s[0..n) at o (json_len(s, n) bytes); returns the end. */
static u8 *write_json(u8 *o, const u8 *s, Py_ssize_t n, int plain)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t run = 0; /* start of the bytes not yet copied */
    *o++ = '"';
    if (!plain) {
        for (Py_ssize_t i = 0; i < n; i++) {
            u8 c = s[i];
            if (ESCAPED_LEN[c] == 1)
                continue;
            memcpy(o, s + run, (size_t)(i - run));
            o += i - run;
            run = i + 1;
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b'; break;
            case '\t': *o++ = 't'; break;
            case '\n': *o++ = 'n'; break;
            case '\f': *o++ = 'f'; break;
            case '\r': *o++ = 'r'; break;
            default: /* another control character: \u00xx */
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = (u8)hex[c >> 4];
                *o++ = (u8)hex[c & 15];
            }
        }
    }
    memcpy(o, s + run, (size_t)(n - run));
    o += n - run;
    *o++ = '"';
    return o;
}

/* The UTF-8 of an exact str, or NULL (error cleared) when it has none (lone surrogates). */
static const u8 *utf8_of(PyObject *text, Py_ssize_t *n)
{
    const char *s = PyUnicode_AsUTF8AndSize(text, n);
    if (s == NULL)
        PyErr_Clear();
    return (const u8 *)s;
}

/* ---------------------------------------------------------------------------- claims */

static const char LEAF_DOMAIN[16] = {'z', 'h', 'e', 'n', 'g', 'y', 'i', 'n',
                                     ':', 'l', 'e', 'a', 'f', ':', 'v', '1'};
#define SALT_HEX 32 /* 16 salt bytes as hex */
/* member = P:{"salt":"s","value":V} */
static const char MEMBER_MID[10] = {':', '{', '"', 's', 'a', 'l', 't', '"', ':', '"'};
static const char MEMBER_VALUE[10] = {'"', ',', '"', 'v', 'a', 'l', 'u', 'e', '"', ':'};
#define MEMBER_FIXED (sizeof MEMBER_MID + SALT_HEX + sizeof MEMBER_VALUE + 1) /* + '}' */

/* What the first pass learns about one claim. The pointers borrow from the caller's objects. */
typedef struct {
    const u8 *path; /* UTF-8 of the path */
    Py_ssize_t path_len;
    const u8 *text; /* UTF-8 of a str value; NULL for None or a tuple */
    Py_ssize_t text_len;
    PyObject *items;  /* the tuple of a tuple value, else NULL */
    size_t path_json; /* byte length of the path's JSON string */
    size_t value_json;
    int path_plain, text_plain; /* no byte needs escaping */
    Py_ssize_t index;           /* position in the dict: claim i takes salt i */
} claim_t;

/* Code-point order of the paths = byte order of their UTF-8. */
static int compare_paths(const void *pa, const void *pb)
{
    const claim_t *a = *(const claim_t *const *)pa, *b = *(const claim_t *const *)pb;
    size_t common = (size_t)(a->path_len < b->path_len ? a->path_len : b->path_len);
    int r = memcmp(a->path, b->path, common);
    if (r)
        return r;
    return (a->path_len > b->path_len) - (a->path_len < b->path_len);
}

/* *total += n, or 0 when the sum would exceed PY_SSIZE_T_MAX (a size the caller then leaves to
 * the Python code). */
static int add_size(size_t *total, size_t n)
{
    if (n > (size_t)PY_SSIZE_T_MAX - *total)
        return 0;
    *total += n;
    return 1;
}

/* First pass over one claim: 1 if it is a common case (c filled, its member's byte length
 * added to *total), 0 if not (the Python code must handle the certificate). */
static int inspect_claim(claim_t *c, PyObject *key, PyObject *value, size_t *total)
{
    size_t value_json;
    if (!PyUnicode_CheckExact(key) || (c->path = utf8_of(key, &c->path_len)) == NULL)
        return 0;
    if (c->path_len > 0xFFFF) /* the leaf frames a path with a u16 length */
        return 0;
    for (Py_ssize_t i = 0; i < c->path_len; i++)
        if (c->path[i] >= 0xF0) /* a 4-byte sequence: beyond the BMP, UTF-16 order differs */
            return 0;
    c->path_json = json_len(c->path, c->path_len, &c->path_plain);
    c->text = NULL;
    c->items = NULL;
    if (PyUnicode_CheckExact(value)) {
        if ((c->text = utf8_of(value, &c->text_len)) == NULL || c->text_len > MAX_TEXT)
            return 0;
        value_json = json_len(c->text, c->text_len, &c->text_plain);
    } else if (value == Py_None) {
        value_json = 4; /* null */
    } else if (PyTuple_CheckExact(value)) {
        Py_ssize_t k = PyTuple_GET_SIZE(value);
        value_json = k ? (size_t)k + 1 : 2; /* brackets and commas */
        for (Py_ssize_t i = 0; i < k; i++) {
            PyObject *item = PyTuple_GET_ITEM(value, i);
            const u8 *s;
            Py_ssize_t n;
            int plain;
            if (!PyUnicode_CheckExact(item) || (s = utf8_of(item, &n)) == NULL ||
                n > MAX_TEXT || !add_size(&value_json, json_len(s, n, &plain)))
                return 0;
        }
        c->items = value;
    } else {
        return 0; /* int, list, str subclass, ...: the general JCS walk decides */
    }
    c->value_json = value_json;
    return add_size(total, c->path_json) && add_size(total, value_json) &&
           add_size(total, MEMBER_FIXED);
}

/* Writes the JSON of c's value at o; returns the end, or NULL (exception set) if a tuple item
 * lost its UTF-8 form since the first pass (it cannot: str objects are immutable). */
static u8 *write_value(u8 *o, const claim_t *c)
{
    if (c->text != NULL)
        return write_json(o, c->text, c->text_len, c->text_plain);
    if (c->items == NULL) {
        memcpy(o, "null", 4);
        return o + 4;
    }
    *o++ = '[';
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(c->items); i++) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(c->items, i), &n);
        if (s == NULL)
            return NULL;
        if (i)
            *o++ = ',';
        o = write_json(o, (const u8 *)s, n, 0);
    }
    *o++ = ']';
    return o;
}

static int check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t want)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", name, want,
                     nargs);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(issue_claims_doc,
             "issue_claims(values, salts_hex, /)\n--\n\n"
             "(leaf, claims_json) of certs.claims.issue_claims_reference for the claims "
             "and the hex text of 16 salt bytes per claim; None outside the common case.");

static PyObject *py_issue_claims(PyObject *Py_UNUSED(m), PyObject *const *args,
                                 Py_ssize_t nargs)
{
    PyObject *values, *salts, *key, *value, *leaf = NULL, *text = NULL, *result = NULL;
    claim_t *claims = NULL, **order = NULL;
    u8 *out = NULL, *o, digest[32], leaf_digest[32];
    const u8 *salt_hex;
    Py_ssize_t n, salts_len, pos = 0, i = 0;
    size_t total = 2; /* { } */
    sm3_ctx leaf_ctx, ctx;

    if (check_nargs("issue_claims", nargs, 2) < 0)
        return NULL;
    values = args[0];
    salts = args[1];
    if (!PyDict_Check(values)) {
        PyErr_Format(PyExc_TypeError, "values must be a dict, not %.100s",
                     Py_TYPE(values)->tp_name);
        return NULL;
    }
    if (!PyUnicode_Check(salts)) {
        PyErr_Format(PyExc_TypeError, "salts_hex must be a str, not %.100s",
                     Py_TYPE(salts)->tp_name);
        return NULL;
    }
    if (!PyDict_CheckExact(values) || !PyUnicode_CheckExact(salts))
        Py_RETURN_NONE;
    n = PyDict_GET_SIZE(values);
    /* 32 ASCII characters per claim: as many UTF-8 bytes as characters */
    if (n > PY_SSIZE_T_MAX / SALT_HEX || (salt_hex = utf8_of(salts, &salts_len)) == NULL ||
        salts_len != SALT_HEX * n || PyUnicode_GET_LENGTH(salts) != salts_len)
        Py_RETURN_NONE;

    /* pass 1: check every claim, add up the output's exact length */
    claims = PyMem_New(claim_t, n ? n : 1);
    order = PyMem_New(claim_t *, n ? n : 1);
    if (claims == NULL || order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    while (i < n && PyDict_Next(values, &pos, &key, &value)) {
        if (!inspect_claim(&claims[i], key, value, &total) || (i && !add_size(&total, 1))) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        claims[i].index = i;
        order[i] = &claims[i];
        i++;
    }
    if (i != n) { /* cannot happen: nothing ran that could change the dict */
        PyErr_SetString(PyExc_RuntimeError, "the claims changed while being read");
        goto done;
    }
    qsort(order, (size_t)n, sizeof *order, compare_paths);

    /* pass 2: in path order, write each member, hash the claim (its path's and value's JSON
     * are in the member just written) and frame it into the leaf */
    out = PyMem_Malloc(total);
    if (out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    sm3_init(&leaf_ctx);
    sm3_update(&leaf_ctx, LEAF_DOMAIN, sizeof LEAF_DOMAIN);
    o = out;
    *o++ = '{';
    for (i = 0; i < n; i++) {
        const claim_t *c = order[i];
        const u8 *path_json, *salt, *value_json;
        u8 frame[2];
        if (i)
            *o++ = ',';
        path_json = o;
        o = write_json(o, c->path, c->path_len, c->path_plain);
        memcpy(o, MEMBER_MID, sizeof MEMBER_MID);
        o += sizeof MEMBER_MID;
        salt = o;
        memcpy(o, salt_hex + SALT_HEX * c->index, SALT_HEX);
        o += SALT_HEX;
        memcpy(o, MEMBER_VALUE, sizeof MEMBER_VALUE);
        o += sizeof MEMBER_VALUE;
        value_json = o;
        if ((o = write_value(o, c)) == NULL)
            goto done;
        *o++ = '}';
        /* claim digest = SM3(["salt",P,V]) */
        sm3_init(&ctx);
        sm3_update(&ctx, "[\"", 2);
        sm3_update(&ctx, salt, SALT_HEX);
        sm3_update(&ctx, "\",", 2);
        sm3_update(&ctx, path_json, c->path_json);
        sm3_update(&ctx, ",", 1);
        sm3_update(&ctx, value_json, c->value_json);
        sm3_update(&ctx, "]", 1);
        sm3_final(&ctx, digest);
        /* leaf frame: u16be(len) || path || digest */
        frame[0] = (u8)(c->path_len >> 8);
        frame[1] = (u8)c->path_len;
        sm3_update(&leaf_ctx, frame, 2);
        sm3_update(&leaf_ctx, c->path, (size_t)c->path_len);
        sm3_update(&leaf_ctx, digest, 32);
    }
    *o++ = '}';
    if ((size_t)(o - out) != total) { /* a sizing bug; the buffer would have overflowed */
        PyErr_SetString(PyExc_SystemError, "certs._claims: output size mismatch");
        goto done;
    }
    sm3_final(&leaf_ctx, leaf_digest);
    leaf = PyBytes_FromStringAndSize((const char *)leaf_digest, 32);
    if (leaf == NULL)
        goto done;
    text = PyUnicode_DecodeUTF8((const char *)out, (Py_ssize_t)total, "strict");
    if (text == NULL)
        goto done;
    result = PyTuple_Pack(2, leaf, text);
done:
    Py_XDECREF(leaf);
    Py_XDECREF(text);
    PyMem_Free(out);
    PyMem_Free(order);
    PyMem_Free(claims);
    return result;
}

PyDoc_STRVAR(sm3_doc, "sm3(data, /)\n--\n\n"
                      "The SM3 (GB/T 32905) digest of a bytes-like object, 32 bytes.");

static PyObject *py_sm3(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    sm3_ctx ctx;
    u8 out[32];
    if (check_nargs("sm3", nargs, 1) < 0 ||
        PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    sm3_init(&ctx);
    sm3_update(&ctx, view.buf, (size_t)view.len);
    sm3_final(&ctx, out);
    PyBuffer_Release(&view);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

PyDoc_STRVAR(merkle_tree_doc,
             "merkle_tree(leaves, /)\n--\n\n"
             "Every node of the SM3 Merkle tree of certs/merkle.py over ``leaves`` (one or more\n"
             "32-byte leaf digests, concatenated), level 0 first, 32 bytes each: what\n"
             "MerkleTree.build(...).to_bytes() returns. ValueError if the length is not a\n"
             "positive multiple of 32.");

static PyObject *py_merkle_tree(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    if (check_nargs("merkle_tree", nargs, 1) < 0 ||
        PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    /* a tree of n leaves has fewer than 2n nodes: 64n bytes must fit */
    if (view.len <= 0 || view.len % 32 != 0 || view.len > PY_SSIZE_T_MAX / 2) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError,
                        "the leaves must be one or more 32-byte digests, concatenated");
        return NULL;
    }
    size_t leaves = (size_t)view.len / 32, nodes = 0;
    for (size_t size = leaves;; size = (size + 1) / 2) {
        nodes += size;
        if (size == 1)
            break;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(32 * nodes));
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    u8 *level = (u8 *)PyBytes_AS_STRING(out);
    const u8 *in = (const u8 *)view.buf;
    Py_BEGIN_ALLOW_THREADS
    u8 node[1 + 64];
    sm3_ctx ctx;
    node[0] = 0x00; /* level 0: SM3(0x00 || leaf) */
    for (size_t i = 0; i < leaves; i++) {
        memcpy(node + 1, in + 32 * i, 32);
        sm3_init(&ctx);
        sm3_update(&ctx, node, 1 + 32);
        sm3_final(&ctx, level + 32 * i);
    }
    node[0] = 0x01; /* inner nodes: SM3(0x01 || left || right); an odd last node moves up */
    for (size_t size = leaves; size > 1; size = (size + 1) / 2) {
        u8 *next = level + 32 * size;
        for (size_t j = 0; j < size / 2; j++) {
            memcpy(node + 1, level + 64 * j, 64);
            sm3_init(&ctx);
            sm3_update(&ctx, node, 1 + 64);
            sm3_final(&ctx, next + 32 * j);
        }
        if (size % 2)
            memcpy(next + 32 * (size / 2), level + 32 * (size - 1), 32);
        level = next;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return out;
}

/* ------------------------------------------------------------------------ module init */

static PyMethodDef module_methods[] = {
    {"issue_claims", (PyCFunction)(void (*)(void))py_issue_claims, METH_FASTCALL,
     issue_claims_doc},
    {"sm3", (PyCFunction)(void (*)(void))py_sm3, METH_FASTCALL, sm3_doc},
    {"merkle_tree", (PyCFunction)(void (*)(void))py_merkle_tree, METH_FASTCALL, merkle_tree_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc, "Salted claim digests, leaf and JCS claims of a certificate, and the\n"
                         "Merkle tree, in C. Selected by certs.formats; see certs/_claims.c.");

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "certs._claims", module_doc, -1, module_methods,
    NULL,                  NULL,            NULL,       NULL,
};

PyMODINIT_FUNC PyInit__claims(void)
{
    json_init_tables();
    if (sm3_self_test() < 0) {
        PyErr_SetString(PyExc_ImportError, "certs._claims: SM3 self-test failed");
        return NULL;
    }
    return PyModule_Create(&module_def);
}
