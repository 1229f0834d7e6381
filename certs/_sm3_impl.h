/*
 * certs/_sm3_impl.h — SM3 (GB/T 32905-2016) in portable C99 for certs/_claims.c, which
 * includes it (one compilation unit: the static functions inline into the claims and Merkle
 * loops). The SM3 of the project is seals/sm3.py; this one exists so that the native
 * issuance path hashes without returning to Python, and tests/certs/test_claims_native.py
 * holds it equal to that reference at every length (through _claims.sm3).
 *
 * Provides: sm3_ctx, sm3_init, sm3_update, sm3_final, sm3_blocks, sm3_self_test (0: the
 * known answer holds), and the u8/u32/u64 types
 * and load_be/store_be helpers _claims.c also uses.
 */
#ifndef ZHENGYIN_SM3_IMPL_H
#define ZHENGYIN_SM3_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint8_t u8;
typedef uint32_t u32;
typedef uint64_t u64;

/* GB/T 32905-2016: 512-bit blocks, 256-bit state, Merkle-Damgard with MD padding
 * (0x80, zeros, 64-bit big-endian bit length). */

static const u32 SM3_IV[8] = {0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600,
                              0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E};

static inline u32 rotl(u32 x, unsigned n)
{
    n &= 31;
    return (x << n) | (x >> ((32 - n) & 31));
}

static inline u32 load_be(const u8 *p)
{
    return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | (u32)p[3];
}

static inline void store_be(u8 *p, u32 x)
{
    p[0] = (u8)(x >> 24);
    p[1] = (u8)(x >> 16);
    p[2] = (u8)(x >> 8);
    p[3] = (u8)x;
}

#define P0(x) ((x) ^ rotl((x), 9) ^ rotl((x), 17))
#define P1(x) ((x) ^ rotl((x), 15) ^ rotl((x), 23))
#define FF0(x, y, z) ((x) ^ (y) ^ (z))
#define GG0(x, y, z) ((x) ^ (y) ^ (z))
#define FF1(x, y, z) (((x) & (y)) | (((x) | (y)) & (z))) /* majority */
#define GG1(x, y, z) ((((y) ^ (z)) & (x)) ^ (z))         /* (x & y) | (~x & z) */

/* T_j <<< (j mod 32): 0x79CC4519 in rounds 0-15, 0x7A879D8A in 16-63. j is always a
 * constant, so this folds to an immediate. */
#define T(j) rotl((j) < 16 ? 0x79CC4519u : 0x7A879D8Au, (j))

/* One round j. Instead of shifting the eight registers, the caller rotates the names:
 * afterwards D holds the new A, B the new C (= B <<< 9), H the new E (= P0(TT2)) and F the new
 * G (= F <<< 19); A, C, E, G are unchanged and are the new B, D, F, H. W'_j = W_j ^ W_j+4. */
#define ROUND(A, B, C, D, E, F, G, H, j, FF, GG)                                              \
    do {                                                                                      \
        const u32 a12_ = rotl(A, 12);                                                         \
        const u32 ss1_ = rotl(a12_ + E + T(j), 7);                                            \
        const u32 tt1_ = FF(A, B, C) + D + (ss1_ ^ a12_) + (w[j] ^ w[(j) + 4]);               \
        const u32 tt2_ = GG(E, F, G) + H + ss1_ + w[j];                                       \
        B = rotl(B, 9);                                                                       \
        D = tt1_;                                                                             \
        F = rotl(F, 19);                                                                      \
        H = P0(tt2_);                                                                         \
    } while (0)

/* Four rounds: the names come back to where they started. */
#define ROUND4(j, FF, GG)                                                                     \
    do {                                                                                      \
        ROUND(a, b, c, d, e, f, g, h, (j), FF, GG);                                           \
        ROUND(d, a, b, c, h, e, f, g, (j) + 1, FF, GG);                                       \
        ROUND(c, d, a, b, g, h, e, f, (j) + 2, FF, GG);                                       \
        ROUND(b, c, d, a, f, g, h, e, (j) + 3, FF, GG);                                       \
    } while (0)

/* Message expansion of W_j .. W_j+3 (16 <= j <= 64). */
#define EXPAND4(j)                                                                            \
    do {                                                                                      \
        for (int k_ = (j); k_ < (j) + 4; k_++)                                                \
            w[k_] = P1(w[k_ - 16] ^ w[k_ - 9] ^ rotl(w[k_ - 3], 15)) ^ rotl(w[k_ - 13], 7) ^   \
                    w[k_ - 6];                                                                \
    } while (0)

/* The compression function over nblocks consecutive 64-byte blocks. Fully unrolled, with the
 * expansion interleaved with the rounds (round j needs W up to j + 4) and every T_j an
 * immediate. Why: bench/PERFORMANCE.md, "SM3 in C". */
static void sm3_blocks(u32 v[8], const u8 *p, size_t nblocks)
{
    u32 w[68];
    while (nblocks--) {
        u32 a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
        for (int j = 0; j < 16; j++)
            w[j] = load_be(p + 4 * j);
        EXPAND4(16);
        ROUND4(0, FF0, GG0);
        EXPAND4(20);
        ROUND4(4, FF0, GG0);
        EXPAND4(24);
        ROUND4(8, FF0, GG0);
        EXPAND4(28);
        ROUND4(12, FF0, GG0);
        EXPAND4(32);
        ROUND4(16, FF1, GG1);
        EXPAND4(36);
        ROUND4(20, FF1, GG1);
        EXPAND4(40);
        ROUND4(24, FF1, GG1);
        EXPAND4(44);
        ROUND4(28, FF1, GG1);
        EXPAND4(48);
        ROUND4(32, FF1, GG1);
        EXPAND4(52);
        ROUND4(36, FF1, GG1);
        EXPAND4(56);
        ROUND4(40, FF1, GG1);
        EXPAND4(60);
        ROUND4(44, FF1, GG1);
        EXPAND4(64);
        ROUND4(48, FF1, GG1);
        ROUND4(52, FF1, GG1);
        ROUND4(56, FF1, GG1);
        ROUND4(60, FF1, GG1);
        v[0] ^= a, v[1] ^= b, v[2] ^= c, v[3] ^= d;
        v[4] ^= e, v[5] ^= f, v[6] ^= g, v[7] ^= h;
        p += 64;
    }
}

typedef struct {
    u32 v[8];
    u8 buf[64];   /* the pending partial block */
    size_t used;  /* bytes in buf, 0..63 */
    u64 length;   /* bytes hashed so far */
} sm3_ctx;

static void sm3_init(sm3_ctx *ctx)
{
    memcpy(ctx->v, SM3_IV, sizeof SM3_IV);
    ctx->used = 0;
    ctx->length = 0;
}

static void sm3_update(sm3_ctx *ctx, const void *data, size_t len)
{
    const u8 *p = (const u8 *)data;
    ctx->length += len;
    if (ctx->used) {
        size_t take = 64 - ctx->used;
        if (len < take) {
            memcpy(ctx->buf + ctx->used, p, len);
            ctx->used += len;
            return;
        }
        memcpy(ctx->buf + ctx->used, p, take);
        sm3_blocks(ctx->v, ctx->buf, 1);
        p += take;
        len -= take;
        ctx->used = 0;
    }
    if (len >= 64) {
        sm3_blocks(ctx->v, p, len / 64);
        p += len & ~(size_t)63;
        len &= 63;
    }
    if (len) {
        memcpy(ctx->buf, p, len);
        ctx->used = len;
    }
}

static void sm3_final(sm3_ctx *ctx, u8 out[32])
{
    u64 bits = ctx->length * 8; /* wraps only beyond 2^61 bytes */
    size_t used = ctx->used;
    ctx->buf[used++] = 0x80;
    if (used > 56) {
        memset(ctx->buf + used, 0, 64 - used);
        sm3_blocks(ctx->v, ctx->buf, 1);
        used = 0;
    }
    memset(ctx->buf + used, 0, 56 - used);
    store_be(ctx->buf + 56, (u32)(bits >> 32));
    store_be(ctx->buf + 60, (u32)bits);
    sm3_blocks(ctx->v, ctx->buf, 1);
    for (int i = 0; i < 8; i++)
        store_be(out + 4 * i, ctx->v[i]);
}

/* GB/T 32905-2016 Annex A, example 1: SM3("abc"). */
static int sm3_self_test(void)
{
    static const u8 expected[32] = {
        0x66, 0xc7, 0xf0, 0xf4, 0x62, 0xee, 0xed, 0xd9, 0xd1, 0xf2, 0xd4,
        0x6b, 0xdc, 0x10, 0xe4, 0xe2, 0x41, 0x67, 0xc4, 0x87, 0x5c, 0xf2,
        0xf7, 0xa2, 0x29, 0x7d, 0xa0, 0x2b, 0x8f, 0x4b, 0xa8, 0xe0};
    sm3_ctx ctx;
    u8 out[32];
    sm3_init(&ctx);
    sm3_update(&ctx, "abc", 3);
    sm3_final(&ctx, out);
    return memcmp(out, expected, 32) == 0 ? 0 : -1;
}

#endif /* ZHENGYIN_SM3_IMPL_H */
