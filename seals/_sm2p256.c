/*
 * seals._sm2p256 — SM2 signatures (GB/T 32918.2) on the curve sm2p256v1, in portable C.
 *
 * Owns the elliptic-curve arithmetic only: SM3, Z, DER and key formats stay in seals/sm2.py.
 * No dependencies beyond CPython; plain C99 plus `unsigned __int128` (gcc, clang).
 *
 * Arithmetic
 *   Field elements mod p and scalars mod n are 4 x 64-bit little-endian limbs in Montgomery
 *   form (R = 2^256), multiplied by CIOS Montgomery multiplication with 128-bit products
 *   (mod p, the reduction step uses p's shape instead of multiplying by p). Carry chains use
 *   the adc/sbb intrinsics on x86-64 (portable 128-bit arithmetic elsewhere). Every field and
 *   scalar operation is branch-free: reductions are conditional subtractions selected by
 *   masks. Inversions are Fermat exponentiations by fixed (public) exponents.
 *
 * Points
 *   Homogeneous projective coordinates (X:Y:Z), x = X/Z, y = Y/Z, and the complete addition
 *   formulas of Renes, Costello and Batina ("Complete addition formulas for prime order
 *   elliptic curves", EUROCRYPT 2016, eprint 2015/1060) for a = -3: Algorithm 4 (addition),
 *   5 (mixed addition, second point affine) and 6 (doubling). They are correct for every
 *   pair of inputs, the point at infinity (0:1:0) and P + P and P + (-P) included, so no code
 *   path needs an exception branch. (In a mixed addition the affine point cannot be infinity;
 *   callers handle zero digits by selecting the unchanged accumulator.)
 *
 * Fixed-base multiplication (signing, key derivation, and the s*G of verification)
 *   A comb of signed windows: the scalar is Booth-recoded into W digits d_i in
 *   [-2^(w-1), 2^(w-1)] with k = sum d_i * 2^(w*i), and table row i holds the affine points
 *   j * 2^(w*i) * G for j = 1 .. 2^(w-1). Then k*G = sum of +-T[i][|d_i|]: W mixed additions,
 *   no doublings. G's table (w = 7: 37 rows x 64 points, 148 KiB) is computed once when the
 *   module is imported and normalized to affine with one batch inversion.
 *
 * Constant time (everything that touches the private key d or the nonce k)
 *   - Booth recoding is arithmetic on bits, no branches.
 *   - Each table lookup reads every entry of the row and keeps the wanted one with a mask;
 *     the sign of the digit is applied by a masked select between y and p - y; a zero digit
 *     is handled by computing the addition anyway and selecting the old accumulator by mask.
 *   - Field/scalar arithmetic is branch-free; masks pass through an empty asm "value barrier"
 *     so the compiler cannot turn them back into branches.
 *   - The affine x of k*G uses the Fermat inverse (fixed exponent).
 *   - The only branch on secret-derived data is the final "retry" outcome of signing
 *     (k = 0, r = 0, r + k = n, s = 0), which is revealed anyway (probability ~2^-254).
 *   - Secret stack buffers are wiped on exit (memset followed by a compiler barrier).
 *   tests/seals/test_sm2_native.py checks this with valgrind memcheck (the "ctgrind" method:
 *   secrets marked undefined, so any branch or address derived from them is reported).
 *   Signing uses s = (1+d)^-1 * (k + r) - r mod n, which equals the standard
 *   (1+d)^-1 * (k - r*d) mod n, with (1+d)^-1 precomputed per key (sign_setup).
 *
 * Verification (no secrets: variable time)
 *   s*G from G's table and t*P from the public key's own table (w = 6: 43 rows x 32 points,
 *   86 KiB), kept in the PublicKey object. Building it costs about as much as 7 verifications
 *   without it, so (ski-rental) it is built on the key's 8th verification, or at once by
 *   precompute(); until then t*P uses signed windows (w = 5) top down with Jacobian
 *   doublings. Keys seen a few times thus cost no table. The result check avoids an
 *   inversion: with v = (r - e) mod n, the affine x1 is v or v + n (when < p), tested as
 *   X == v*Z.
 *
 * The GIL is released around all curve arithmetic.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;
__extension__ typedef unsigned __int128 u128;

/* ------------------------------------------------------------------ constant-time helpers */

/* An optimization barrier: the compiler must assume x may have any value afterwards. */
static inline u64 value_barrier(u64 x)
{
    __asm__("" : "+r"(x));
    return x;
}

/* All ones when x == 0, else 0. */
static inline u64 mask_zero(u64 x)
{
    return value_barrier(((x | (0 - x)) >> 63) - 1);
}

/* All ones when the low bit of bit is 1, else 0. */
static inline u64 mask_bit(u64 bit)
{
    return value_barrier(0 - (bit & 1));
}

static void wipe(void *p, size_t len)
{
    memset(p, 0, len);
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

/* r = mask ? a : b, for 4 limbs */
static inline void select4(u64 r[4], u64 mask, const u64 a[4], const u64 b[4])
{
    for (int i = 0; i < 4; i++)
        r[i] = (a[i] & mask) | (b[i] & ~mask);
}

static inline u64 is_zero4(const u64 a[4])
{
    return mask_zero(a[0] | a[1] | a[2] | a[3]);
}

static inline u64 is_equal4(const u64 a[4], const u64 b[4])
{
    return mask_zero((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]));
}

/* Carry chains: adc/sbb on x86-64 (gcc's code for the portable 128-bit form is slow),
 * 128-bit arithmetic elsewhere (or with -DSM2P256_PORTABLE). Carries and borrows are 0 or 1. */
#if defined(__x86_64__) && !defined(SM2P256_PORTABLE)
#include <x86intrin.h>
static inline u64 addc(u64 *out, u64 a, u64 b, u64 carry)
{
    unsigned long long o;
    u64 c = _addcarry_u64((unsigned char)carry, a, b, &o);
    *out = o;
    return c;
}
static inline u64 subb(u64 *out, u64 a, u64 b, u64 borrow)
{
    unsigned long long o;
    u64 c = _subborrow_u64((unsigned char)borrow, a, b, &o);
    *out = o;
    return c;
}
#else
static inline u64 addc(u64 *out, u64 a, u64 b, u64 carry)
{
    u128 s = (u128)a + b + carry;
    *out = (u64)s;
    return (u64)(s >> 64);
}
static inline u64 subb(u64 *out, u64 a, u64 b, u64 borrow)
{
    u128 d = (u128)a - b - borrow;
    *out = (u64)d;
    return (u64)(d >> 64) & 1;
}
#endif

/* lo, *hi = a * b */
static inline u64 mul64(u64 a, u64 b, u64 *hi)
{
    u128 p = (u128)a * b;
    *hi = (u64)(p >> 64);
    return (u64)p;
}

/* All ones when a < m (as 256-bit integers), else 0. */
static inline u64 mask_less(const u64 a[4], const u64 m[4])
{
    u64 br, t;
    br = subb(&t, a[0], m[0], 0);
    br = subb(&t, a[1], m[1], br);
    br = subb(&t, a[2], m[2], br);
    br = subb(&t, a[3], m[3], br);
    return mask_bit(br);
}

/* ------------------------------------------------------------------- modular arithmetic */

/* p = 2^256 - 2^224 - 2^96 + 2^64 - 1 and the group order n, little-endian limbs. */
static const u64 P_[4] = {0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFF00000000ULL, 0xFFFFFFFFFFFFFFFFULL,
                          0xFFFFFFFEFFFFFFFFULL};
static const u64 N_[4] = {0x53BBF40939D54123ULL, 0x7203DF6B21C6052BULL, 0xFFFFFFFFFFFFFFFFULL,
                          0xFFFFFFFEFFFFFFFFULL};
/* -n^-1 mod 2^64 (checked at import); for p it is 1 since p = -1 mod 2^64. */
static const u64 N_MINV = 0x327F9E8872350975ULL;

/* r = t - m if t >= m else t, for t = (t4:t3:t2:t1:t0) < 2m. */
static inline void reduce_once(u64 r[4], u64 t0, u64 t1, u64 t2, u64 t3, u64 t4, const u64 m[4])
{
    u64 s0, s1, s2, s3, br, keep;
    br = subb(&s0, t0, m[0], 0);
    br = subb(&s1, t1, m[1], br);
    br = subb(&s2, t2, m[2], br);
    br = subb(&s3, t3, m[3], br);
    br = subb(&t4, t4, 0, br);
    keep = mask_bit(br); /* borrow: t < m, keep t */
    r[0] = (t0 & keep) | (s0 & ~keep);
    r[1] = (t1 & keep) | (s1 & ~keep);
    r[2] = (t2 & keep) | (s2 & ~keep);
    r[3] = (t3 & keep) | (s3 & ~keep);
}

/* (t5:t4:t3:t2:t1:t0) = (t4:t3:t2:t1:t0) + (a3:a2:a1:a0) * b */
#define MUL_ROW(a0, a1, a2, a3, b, t0, t1, t2, t3, t4, t5)                                    \
    do {                                                                                      \
        u64 l0_, l1_, l2_, l3_, h0_, h1_, h2_, h3_, c_;                                       \
        l0_ = mul64(a0, b, &h0_);                                                             \
        l1_ = mul64(a1, b, &h1_);                                                             \
        l2_ = mul64(a2, b, &h2_);                                                             \
        l3_ = mul64(a3, b, &h3_);                                                             \
        c_ = addc(&l1_, l1_, h0_, 0);                                                         \
        c_ = addc(&l2_, l2_, h1_, c_);                                                        \
        c_ = addc(&l3_, l3_, h2_, c_);                                                        \
        h3_ += c_;                                                                            \
        c_ = addc(&t0, t0, l0_, 0);                                                           \
        c_ = addc(&t1, t1, l1_, c_);                                                          \
        c_ = addc(&t2, t2, l2_, c_);                                                          \
        c_ = addc(&t3, t3, l3_, c_);                                                          \
        t5 = addc(&t4, t4, h3_, c_);                                                          \
    } while (0)

/* Montgomery product a*b/2^256 mod m for a, b < m (CIOS); r may alias a or b. */
static inline __attribute__((always_inline)) void
mont_mul(u64 r[4], const u64 a[4], const u64 b[4], const u64 m[4], const u64 minv)
{
    u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5, q;
    const u64 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    for (int i = 0; i < 4; i++) {
        MUL_ROW(a0, a1, a2, a3, b[i], t0, t1, t2, t3, t4, t5);
        q = t0 * minv;
        {
            u64 l0, l1, l2, l3, h0, h1, h2, h3, c;
            l0 = mul64(q, m[0], &h0);
            l1 = mul64(q, m[1], &h1);
            l2 = mul64(q, m[2], &h2);
            l3 = mul64(q, m[3], &h3);
            c = addc(&l1, l1, h0, 0);
            c = addc(&l2, l2, h1, c);
            c = addc(&l3, l3, h2, c);
            h3 += c;
            c = addc(&t0, t0, l0, 0); /* t0 becomes 0 */
            c = addc(&t0, t1, l1, c);
            c = addc(&t1, t2, l2, c);
            c = addc(&t2, t3, l3, c);
            c = addc(&t3, t4, h3, c);
            t4 = t5 + c;
        }
    }
    reduce_once(r, t0, t1, t2, t3, t4, m);
}

/* r = a + b mod m for a, b < m */
static inline void mod_add(u64 r[4], const u64 a[4], const u64 b[4], const u64 m[4])
{
    u64 t0, t1, t2, t3, c;
    c = addc(&t0, a[0], b[0], 0);
    c = addc(&t1, a[1], b[1], c);
    c = addc(&t2, a[2], b[2], c);
    c = addc(&t3, a[3], b[3], c);
    reduce_once(r, t0, t1, t2, t3, c, m);
}

/* r = a - b mod m for a, b < m */
static inline void mod_sub(u64 r[4], const u64 a[4], const u64 b[4], const u64 m[4])
{
    u64 t0, t1, t2, t3, br, mask, c;
    br = subb(&t0, a[0], b[0], 0);
    br = subb(&t1, a[1], b[1], br);
    br = subb(&t2, a[2], b[2], br);
    br = subb(&t3, a[3], b[3], br);
    mask = mask_bit(br);
    c = addc(&r[0], t0, m[0] & mask, 0);
    c = addc(&r[1], t1, m[1] & mask, c);
    c = addc(&r[2], t2, m[2] & mask, c);
    (void)addc(&r[3], t3, m[3] & mask, c);
}

/* Field mod p (Montgomery form). */
static u64 FP_ONE[4], FP_R2[4], FP_B[4];

/* Montgomery product mod p, using p's shape: -p^-1 = 1 mod 2^64, so q = t0, and
 * (t + q p) / 2^64 = t / 2^64 + q (p + 1) / 2^64 where (p + 1) / 2^64 =
 * 2^192 - 2^160 - 2^32 + 1; so q (p + 1) / 2^64 = w 2^160 - w with w = q (2^32 - 1) < 2^96:
 * shifts and a subtraction instead of four multiplications. */
static inline __attribute__((always_inline)) void
fp_mont_mul(u64 r[4], const u64 a[4], const u64 b[4])
{
    u64 t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5, q, wl, wh, v2, v3, c;
    const u64 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    for (int i = 0; i < 4; i++) {
        MUL_ROW(a0, a1, a2, a3, b[i], t0, t1, t2, t3, t4, t5);
        q = t0;
        wl = mul64(q, 0xFFFFFFFFULL, &wh);
        v2 = wl << 32;
        v3 = (wl >> 32) | (wh << 32);
        c = addc(&t3, t3, v2, 0);
        c = addc(&t4, t4, v3, c);
        t5 += c;
        c = subb(&t0, t1, wl, 0);
        c = subb(&t1, t2, wh, c);
        c = subb(&t2, t3, 0, c);
        c = subb(&t3, t4, 0, c);
        t4 = t5 - c;
    }
    reduce_once(r, t0, t1, t2, t3, t4, P_);
}

/* Out of line: one copy of the multiplication keeps the code small (and fast to compile). */
static __attribute__((noinline)) void fp_mul(u64 r[4], const u64 a[4], const u64 b[4])
{
    fp_mont_mul(r, a, b);
}
static inline void fp_sqr(u64 r[4], const u64 a[4])
{
    fp_mul(r, a, a);
}
static inline void fp_add(u64 r[4], const u64 a[4], const u64 b[4])
{
    mod_add(r, a, b, P_);
}
static inline void fp_sub(u64 r[4], const u64 a[4], const u64 b[4])
{
    mod_sub(r, a, b, P_);
}
static inline void fp_neg(u64 r[4], const u64 a[4])
{
    static const u64 zero[4] = {0, 0, 0, 0};
    mod_sub(r, zero, a, P_);
}
static void fp_to_mont(u64 r[4], const u64 a[4])
{
    fp_mul(r, a, FP_R2);
}
static void fp_from_mont(u64 r[4], const u64 a[4])
{
    static const u64 one[4] = {1, 0, 0, 0};
    fp_mul(r, a, one);
}
static void fp_sqr_n(u64 r[4], const u64 a[4], int n)
{
    fp_sqr(r, a);
    while (--n > 0)
        fp_sqr(r, r);
}

/* r = a^(p-2) = a^-1 (0 for a = 0), constant time; p - 2 in binary is
 * 1^31 0 1^128 0^32 1^62 0 1. */
static void fp_inv(u64 r[4], const u64 a[4])
{
    u64 x2[4], x3[4], x6[4], x12[4], x15[4], x30[4], x31[4], x32[4], t[4];
    fp_sqr(x2, a);
    fp_mul(x2, x2, a);
    fp_sqr(x3, x2);
    fp_mul(x3, x3, a);
    fp_sqr_n(x6, x3, 3);
    fp_mul(x6, x6, x3);
    fp_sqr_n(x12, x6, 6);
    fp_mul(x12, x12, x6);
    fp_sqr_n(x15, x12, 3);
    fp_mul(x15, x15, x3);
    fp_sqr_n(x30, x15, 15);
    fp_mul(x30, x30, x15);
    fp_sqr(x31, x30);
    fp_mul(x31, x31, a);
    fp_sqr(x32, x31);
    fp_mul(x32, x32, a);
    /* 1^31 0 1^32 */
    fp_sqr_n(t, x31, 33);
    fp_mul(t, t, x32);
    /* ... 1^128 */
    for (int i = 0; i < 3; i++) {
        fp_sqr_n(t, t, 32);
        fp_mul(t, t, x32);
    }
    /* 0^32 */
    fp_sqr_n(t, t, 32);
    /* 1^62 = 1^32 1^30 */
    fp_sqr_n(t, t, 32);
    fp_mul(t, t, x32);
    fp_sqr_n(t, t, 30);
    fp_mul(t, t, x30);
    /* 0 1 */
    fp_sqr_n(t, t, 2);
    fp_mul(r, t, a);
    wipe(x2, sizeof x2);
    wipe(x3, sizeof x3);
    wipe(x6, sizeof x6);
    wipe(x12, sizeof x12);
    wipe(x15, sizeof x15);
    wipe(x30, sizeof x30);
    wipe(x31, sizeof x31);
    wipe(x32, sizeof x32);
    wipe(t, sizeof t);
}

/* Scalars mod n (Montgomery form where noted). */
static u64 FN_ONE[4], FN_R2[4];

static __attribute__((noinline)) void fn_mul(u64 r[4], const u64 a[4], const u64 b[4])
{
    mont_mul(r, a, b, N_, N_MINV);
}
static inline void fn_add(u64 r[4], const u64 a[4], const u64 b[4])
{
    mod_add(r, a, b, N_);
}
static inline void fn_sub(u64 r[4], const u64 a[4], const u64 b[4])
{
    mod_sub(r, a, b, N_);
}
/* a mod n for any 256-bit a (a < 2^256 < 2n). */
static inline void fn_reduce(u64 r[4], const u64 a[4])
{
    reduce_once(r, a[0], a[1], a[2], a[3], 0, N_);
}

/* r = a^(n-2) = a^-1 mod n in Montgomery form, constant time (the exponent is public). */
static void fn_inv(u64 r[4], const u64 a[4])
{
    static const u64 e[4] = {0x53BBF40939D54121ULL, 0x7203DF6B21C6052BULL,
                             0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL};
    u64 tab[16][4], acc[4];
    memcpy(tab[0], FN_ONE, 32);
    memcpy(tab[1], a, 32);
    for (int j = 2; j < 16; j++)
        fn_mul(tab[j], tab[j - 1], a);
    memcpy(acc, FN_ONE, 32);
    for (int i = 63; i >= 0; i--) {
        for (int j = 0; j < 4; j++)
            fn_mul(acc, acc, acc);
        fn_mul(acc, acc, tab[(e[i / 16] >> (4 * (i % 16))) & 15]);
    }
    memcpy(r, acc, 32);
    wipe(tab, sizeof tab);
    wipe(acc, sizeof acc);
}

/* --------------------------------------------------------------------------------- points */

typedef struct {
    u64 x[4], y[4];
} apt; /* affine, Montgomery form; never the point at infinity */

typedef struct {
    u64 X[4], Y[4], Z[4];
} ppt; /* projective, Montgomery form; infinity is (0:1:0) */

static apt G_AFF;

static void pt_set_infinity(ppt *r)
{
    memset(r->X, 0, 32);
    memcpy(r->Y, FP_ONE, 32);
    memset(r->Z, 0, 32);
}

static void pt_from_affine(ppt *r, const apt *a)
{
    memcpy(r->X, a->x, 32);
    memcpy(r->Y, a->y, 32);
    memcpy(r->Z, FP_ONE, 32);
}

/* RCB16 Algorithm 4: o = p + q, complete; o may alias p or q. */
static void pt_add(ppt *o, const ppt *p, const ppt *q)
{
    u64 t0[4], t1[4], t2[4], t3[4], t4[4], X3[4], Y3[4], Z3[4];
    fp_mul(t0, p->X, q->X);
    fp_mul(t1, p->Y, q->Y);
    fp_mul(t2, p->Z, q->Z);
    fp_add(t3, p->X, p->Y);
    fp_add(t4, q->X, q->Y);
    fp_mul(t3, t3, t4);
    fp_add(t4, t0, t1);
    fp_sub(t3, t3, t4);
    fp_add(t4, p->Y, p->Z);
    fp_add(X3, q->Y, q->Z);
    fp_mul(t4, t4, X3);
    fp_add(X3, t1, t2);
    fp_sub(t4, t4, X3);
    fp_add(X3, p->X, p->Z);
    fp_add(Y3, q->X, q->Z);
    fp_mul(X3, X3, Y3);
    fp_add(Y3, t0, t2);
    fp_sub(Y3, X3, Y3);
    fp_mul(Z3, FP_B, t2);
    fp_sub(X3, Y3, Z3);
    fp_add(Z3, X3, X3);
    fp_add(X3, X3, Z3);
    fp_sub(Z3, t1, X3);
    fp_add(X3, t1, X3);
    fp_mul(Y3, FP_B, Y3);
    fp_add(t1, t2, t2);
    fp_add(t2, t1, t2);
    fp_sub(Y3, Y3, t2);
    fp_sub(Y3, Y3, t0);
    fp_add(t1, Y3, Y3);
    fp_add(Y3, t1, Y3);
    fp_add(t1, t0, t0);
    fp_add(t0, t1, t0);
    fp_sub(t0, t0, t2);
    fp_mul(t1, t4, Y3);
    fp_mul(t2, t0, Y3);
    fp_mul(Y3, X3, Z3);
    fp_add(Y3, Y3, t2);
    fp_mul(X3, t3, X3);
    fp_sub(X3, X3, t1);
    fp_mul(Z3, t4, Z3);
    fp_mul(t1, t3, t0);
    fp_add(Z3, Z3, t1);
    memcpy(o->X, X3, 32);
    memcpy(o->Y, Y3, 32);
    memcpy(o->Z, Z3, 32);
}

/* RCB16 Algorithm 5: o = p + q with q affine (not infinity), complete in p; o may alias p. */
static void pt_add_mixed(ppt *o, const ppt *p, const apt *q)
{
    u64 t0[4], t1[4], t2[4], t3[4], t4[4], X3[4], Y3[4], Z3[4];
    fp_mul(t0, p->X, q->x);
    fp_mul(t1, p->Y, q->y);
    fp_add(t3, q->x, q->y);
    fp_add(t4, p->X, p->Y);
    fp_mul(t3, t3, t4);
    fp_add(t4, t0, t1);
    fp_sub(t3, t3, t4);
    fp_mul(t4, q->y, p->Z);
    fp_add(t4, t4, p->Y);
    fp_mul(Y3, q->x, p->Z);
    fp_add(Y3, Y3, p->X);
    fp_mul(Z3, FP_B, p->Z);
    fp_sub(X3, Y3, Z3);
    fp_add(Z3, X3, X3);
    fp_add(X3, X3, Z3);
    fp_sub(Z3, t1, X3);
    fp_add(X3, t1, X3);
    fp_mul(Y3, FP_B, Y3);
    fp_add(t1, p->Z, p->Z);
    fp_add(t2, t1, p->Z);
    fp_sub(Y3, Y3, t2);
    fp_sub(Y3, Y3, t0);
    fp_add(t1, Y3, Y3);
    fp_add(Y3, t1, Y3);
    fp_add(t1, t0, t0);
    fp_add(t0, t1, t0);
    fp_sub(t0, t0, t2);
    fp_mul(t1, t4, Y3);
    fp_mul(t2, t0, Y3);
    fp_mul(Y3, X3, Z3);
    fp_add(Y3, Y3, t2);
    fp_mul(X3, t3, X3);
    fp_sub(X3, X3, t1);
    fp_mul(Z3, t4, Z3);
    fp_mul(t1, t3, t0);
    fp_add(Z3, Z3, t1);
    memcpy(o->X, X3, 32);
    memcpy(o->Y, Y3, 32);
    memcpy(o->Z, Z3, 32);
}

/* RCB16 Algorithm 6: o = 2p, complete; o may alias p. */
static void pt_dbl(ppt *o, const ppt *p)
{
    u64 t0[4], t1[4], t2[4], t3[4], X3[4], Y3[4], Z3[4];
    fp_sqr(t0, p->X);
    fp_sqr(t1, p->Y);
    fp_sqr(t2, p->Z);
    fp_mul(t3, p->X, p->Y);
    fp_add(t3, t3, t3);
    fp_mul(Z3, p->X, p->Z);
    fp_add(Z3, Z3, Z3);
    fp_mul(Y3, FP_B, t2);
    fp_sub(Y3, Y3, Z3);
    fp_add(X3, Y3, Y3);
    fp_add(Y3, X3, Y3);
    fp_sub(X3, t1, Y3);
    fp_add(Y3, t1, Y3);
    fp_mul(Y3, X3, Y3);
    fp_mul(X3, X3, t3);
    fp_add(t3, t2, t2);
    fp_add(t2, t2, t3);
    fp_mul(Z3, FP_B, Z3);
    fp_sub(Z3, Z3, t2);
    fp_sub(Z3, Z3, t0);
    fp_add(t3, Z3, Z3);
    fp_add(Z3, Z3, t3);
    fp_add(t3, t0, t0);
    fp_add(t0, t3, t0);
    fp_sub(t0, t0, t2);
    fp_mul(t0, t0, Z3);
    fp_add(Y3, Y3, t0);
    fp_mul(t0, p->Y, p->Z);
    fp_add(t0, t0, t0);
    fp_mul(Z3, t0, Z3);
    fp_sub(X3, X3, Z3);
    fp_mul(Z3, t0, t1);
    fp_add(Z3, Z3, Z3);
    fp_add(Z3, Z3, Z3);
    memcpy(o->X, X3, 32);
    memcpy(o->Y, Y3, 32);
    memcpy(o->Z, Z3, 32);
}

/* y^2 == x^3 - 3x + b for x, y in Montgomery form (< p). */
static int on_curve(const apt *a)
{
    u64 l[4], r[4], t[4];
    fp_sqr(l, a->y);
    fp_sqr(r, a->x);
    fp_mul(r, r, a->x);
    fp_add(t, a->x, a->x);
    fp_add(t, t, a->x);
    fp_sub(r, r, t);
    fp_add(r, r, FP_B);
    return (int)(is_equal4(l, r) & 1);
}

/* Affine form of p (constant time); p must not be infinity. */
static void pt_to_affine(apt *r, const ppt *p)
{
    u64 zinv[4];
    fp_inv(zinv, p->Z);
    fp_mul(r->x, p->X, zinv);
    fp_mul(r->y, p->Y, zinv);
    wipe(zinv, sizeof zinv);
}

/* Affine forms of count points (none infinity) with one inversion; scratch holds count
 * field elements. Only used on public data. */
static void batch_to_affine(apt *out, const ppt *in, size_t count, u64 (*scratch)[4])
{
    u64 inv[4], zinv[4];
    if (count == 0)
        return;
    memcpy(scratch[0], in[0].Z, 32);
    for (size_t i = 1; i < count; i++)
        fp_mul(scratch[i], scratch[i - 1], in[i].Z);
    fp_inv(inv, scratch[count - 1]);
    for (size_t i = count - 1; i > 0; i--) {
        fp_mul(zinv, inv, scratch[i - 1]);
        fp_mul(inv, inv, in[i].Z);
        fp_mul(out[i].x, in[i].X, zinv);
        fp_mul(out[i].y, in[i].Y, zinv);
    }
    fp_mul(out[0].x, in[0].X, inv);
    fp_mul(out[0].y, in[0].Y, inv);
}

/* ------------------------------------------------------------------ scalars and windows */

static void load_be32(u64 r[4], const unsigned char *b)
{
    for (int i = 0; i < 4; i++) {
        u64 v = 0;
        for (int j = 0; j < 8; j++)
            v = (v << 8) | b[8 * (3 - i) + j];
        r[i] = v;
    }
}

static void store_be32(unsigned char *b, const u64 a[4])
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            b[8 * (3 - i) + j] = (unsigned char)(a[i] >> (56 - 8 * j));
}

/* Bits [pos, pos + w] (w + 1 bits) of the scalar k (5 limbs, the last zero), where bit -1
 * is 0. pos depends only on the window index (public). */
static inline u32 window_bits(const u64 k[5], int pos, int w)
{
    u64 v;
    const u64 mask = (1ULL << (w + 1)) - 1;
    if (pos < 0)
        return (u32)((k[0] << 1) & mask);
    v = k[pos / 64] >> (pos % 64);
    if (pos % 64 + w + 1 > 64)
        v |= k[pos / 64 + 1] << (64 - pos % 64);
    return (u32)(v & mask);
}

/* Booth recoding of a (w+1)-bit window (branch-free): |digit| and its sign (1 = negative).
 * digit = bits[1..w] + bit[0] - 2^w * bit[w], in [-2^(w-1), 2^(w-1)]. */
static inline void booth(u32 in, int w, u32 *absval, u32 *neg)
{
    u32 top = (in >> w) & 1;
    u32 m = (u32)value_barrier((u64)(0 - top));
    u32 d = ((((1u << (w + 1)) - 1) - in) & m) | (in & ~m);
    *absval = (d >> 1) + (d & 1);
    *neg = top;
}

/* Comb tables: row i, entry j holds (j + 1) * 2^(w*i) * base. */
#define G_W 7
#define G_ROWS 37 /* ceil(257 / 7) */
#define G_ENTRIES (1 << (G_W - 1))
#define PK_W 6
#define PK_ROWS 43 /* ceil(257 / 6) */
#define PK_ENTRIES (1 << (PK_W - 1))
#define VAR_W 5
#define VAR_ROWS 52 /* ceil(257 / 5) */
#define VAR_ENTRIES (1 << (VAR_W - 1))
/* verifications of a key before its table is built (the build costs about this many) */
#define TABLE_AFTER_USES 7

static apt G_TAB[G_ROWS * G_ENTRIES];

/* Fill tab (rows * 2^(w-1) affine points) for base. Returns -1 when out of memory.
 * Public data only; safe without the GIL (raw allocator). */
static int build_comb(apt *tab, const apt *base, int w, int rows)
{
    const size_t entries = (size_t)1 << (w - 1), count = (size_t)rows * entries;
    ppt *tmp = PyMem_RawMalloc(count * sizeof(ppt));
    u64(*scratch)[4] = PyMem_RawMalloc(count * sizeof *scratch);
    ppt b;
    if (tmp == NULL || scratch == NULL) {
        PyMem_RawFree(tmp);
        PyMem_RawFree(scratch);
        return -1;
    }
    pt_from_affine(&b, base);
    for (int i = 0; i < rows; i++) {
        ppt *row = tmp + (size_t)i * entries;
        row[0] = b;
        for (size_t j = 1; j < entries; j++)
            pt_add(&row[j], &row[j - 1], &b);
        pt_dbl(&b, &row[entries - 1]); /* 2 * 2^(w-1) * b = 2^w * b */
    }
    batch_to_affine(tab, tmp, count, scratch);
    PyMem_RawFree(tmp);
    PyMem_RawFree(scratch);
    return 0;
}

/* r = k*G, constant time in k (k < 2^256). */
static void ct_mul_base(ppt *r, const u64 k[4])
{
    u64 kk[5] = {k[0], k[1], k[2], k[3], 0};
    ppt acc, sum;
    apt sel;
    u64 ny[4];
    u32 absval, neg;
    pt_set_infinity(&acc);
    for (int i = 0; i < G_ROWS; i++) {
        const apt *row = G_TAB + (size_t)i * G_ENTRIES;
        u64 sx[4] = {0, 0, 0, 0}, sy[4] = {0, 0, 0, 0}, zero;
        booth(window_bits(kk, G_W * i - 1, G_W), G_W, &absval, &neg);
        for (u32 j = 0; j < G_ENTRIES; j++) {
            u64 m = mask_zero((u64)((j + 1) ^ absval));
            for (int l = 0; l < 4; l++) {
                sx[l] |= row[j].x[l] & m;
                sy[l] |= row[j].y[l] & m;
            }
        }
        memcpy(sel.x, sx, 32);
        fp_neg(ny, sy);
        select4(sel.y, mask_bit(neg), ny, sy);
        pt_add_mixed(&sum, &acc, &sel);
        zero = mask_zero(absval);
        select4(acc.X, zero, acc.X, sum.X);
        select4(acc.Y, zero, acc.Y, sum.Y);
        select4(acc.Z, zero, acc.Z, sum.Z);
        wipe(sx, sizeof sx);
        wipe(sy, sizeof sy);
    }
    *r = acc;
    wipe(kk, sizeof kk);
    wipe(&acc, sizeof acc);
    wipe(&sum, sizeof sum);
    wipe(&sel, sizeof sel);
    wipe(ny, sizeof ny);
}

/* acc += k * base, where tab is base's comb (w, rows); variable time (public k only). */
static void vt_add_comb(ppt *acc, const apt *tab, int w, int rows, const u64 k[4])
{
    const size_t entries = (size_t)1 << (w - 1);
    u64 kk[5] = {k[0], k[1], k[2], k[3], 0};
    u32 absval, neg;
    apt q;
    for (int i = 0; i < rows; i++) {
        booth(window_bits(kk, w * i - 1, w), w, &absval, &neg);
        if (absval == 0)
            continue;
        q = tab[(size_t)i * entries + absval - 1];
        if (neg)
            fp_neg(q.y, q.y);
        pt_add_mixed(acc, acc, &q);
    }
}

/* Jacobian coordinates (x = X/Z^2, y = Y/Z^3; Z = 0 is infinity), for the doublings of the
 * variable-base multiplication only: public data, variable time. */
typedef struct {
    u64 X[4], Y[4], Z[4];
} jpt;

/* o = 2p for a = -3 ("dbl-2001-b", 3M + 5S); infinity stays infinity (Z3 = 2YZ). */
static void jac_dbl(jpt *o, const jpt *p)
{
    u64 delta[4], gamma[4], beta[4], alpha[4], t[4], u[4];
    fp_sqr(delta, p->Z);
    fp_sqr(gamma, p->Y);
    fp_mul(beta, p->X, gamma);
    fp_sub(t, p->X, delta);
    fp_add(u, p->X, delta);
    fp_mul(alpha, t, u);
    fp_add(t, alpha, alpha);
    fp_add(alpha, alpha, t); /* alpha = 3 (X - delta)(X + delta) */
    fp_add(t, p->Y, p->Z);
    fp_sqr(t, t);
    fp_sub(t, t, gamma);
    fp_sub(o->Z, t, delta); /* Z3 = (Y + Z)^2 - gamma - delta = 2YZ */
    fp_add(beta, beta, beta);
    fp_add(beta, beta, beta); /* 4 beta */
    fp_sqr(t, alpha);
    fp_add(u, beta, beta);
    fp_sub(o->X, t, u); /* X3 = alpha^2 - 8 beta */
    fp_sub(t, beta, o->X);
    fp_mul(t, alpha, t);
    fp_sqr(gamma, gamma);
    fp_add(gamma, gamma, gamma);
    fp_add(gamma, gamma, gamma);
    fp_add(gamma, gamma, gamma); /* 8 gamma^2 */
    fp_sub(o->Y, t, gamma);      /* Y3 = alpha (4 beta - X3) - 8 gamma^2 */
}

/* o = p + q, q affine; variable time, with the exceptional cases as branches. */
static void jac_add_affine(jpt *o, const jpt *p, const apt *q)
{
    u64 z1z1[4], u2[4], s2[4], h[4], r[4], hh[4], hhh[4], v[4], t[4];
    if (is_zero4(p->Z)) {
        memcpy(o->X, q->x, 32);
        memcpy(o->Y, q->y, 32);
        memcpy(o->Z, FP_ONE, 32);
        return;
    }
    fp_sqr(z1z1, p->Z);
    fp_mul(u2, q->x, z1z1);
    fp_mul(s2, q->y, p->Z);
    fp_mul(s2, s2, z1z1);
    fp_sub(h, u2, p->X);
    fp_sub(r, s2, p->Y);
    if (is_zero4(h)) {
        if (is_zero4(r)) { /* p == q */
            jac_dbl(o, p);
        } else { /* p == -q */
            memcpy(o->X, FP_ONE, 32);
            memcpy(o->Y, FP_ONE, 32);
            memset(o->Z, 0, 32);
        }
        return;
    }
    fp_sqr(hh, h);
    fp_mul(hhh, h, hh);
    fp_mul(v, p->X, hh);
    fp_mul(o->Z, p->Z, h);
    fp_mul(t, p->Y, hhh);
    fp_sqr(u2, r);
    fp_sub(u2, u2, hhh);
    fp_sub(u2, u2, v);
    fp_sub(o->X, u2, v); /* X3 = r^2 - H^3 - 2 X1 H^2 */
    fp_sub(v, v, o->X);
    fp_mul(v, r, v);
    fp_sub(o->Y, v, t); /* Y3 = r (X1 H^2 - X3) - Y1 H^3 */
}

/* r = k * base (any point), signed windows (w = 5) top down; variable time (public k). */
static void vt_mul(ppt *r, const apt *base, const u64 k[4])
{
    ppt tmp[VAR_ENTRIES], b;
    apt tab[VAR_ENTRIES];
    u64 scratch[VAR_ENTRIES][4];
    u64 kk[5] = {k[0], k[1], k[2], k[3], 0};
    u32 absval, neg;
    int started = 0;
    jpt acc;
    apt q;
    pt_from_affine(&b, base);
    tmp[0] = b;
    for (int j = 1; j < VAR_ENTRIES; j++)
        pt_add(&tmp[j], &tmp[j - 1], &b);
    batch_to_affine(tab, tmp, VAR_ENTRIES, scratch);
    memcpy(acc.X, FP_ONE, 32);
    memcpy(acc.Y, FP_ONE, 32);
    memset(acc.Z, 0, 32);
    for (int i = VAR_ROWS - 1; i >= 0; i--) {
        if (started)
            for (int j = 0; j < VAR_W; j++)
                jac_dbl(&acc, &acc);
        booth(window_bits(kk, VAR_W * i - 1, VAR_W), VAR_W, &absval, &neg);
        if (absval == 0)
            continue;
        q = tab[absval - 1];
        if (neg)
            fp_neg(q.y, q.y);
        jac_add_affine(&acc, &acc, &q);
        started = 1;
    }
    /* homogeneous projective (X Z, Y, Z^3): x = XZ/Z^3 = X/Z^2, y = Y/Z^3; (0:Y:0) is infinity */
    fp_mul(r->X, acc.X, acc.Z);
    memcpy(r->Y, acc.Y, 32);
    fp_sqr(r->Z, acc.Z);
    fp_mul(r->Z, r->Z, acc.Z);
    if (is_zero4(acc.Z))
        pt_set_infinity(r);
}

/* ------------------------------------------------------------------------- SM2 itself */

/* k = (hi * 2^256 + lo) mod n for 64 big-endian random bytes, constant time. */
static void nonce_from_bytes(u64 k[4], const unsigned char *rnd)
{
    u64 hi[4], lo[4];
    load_be32(hi, rnd);
    load_be32(lo, rnd + 32);
    fn_reduce(hi, hi);
    fn_reduce(lo, lo);
    fn_mul(hi, hi, FN_R2); /* hi * 2^256 mod n */
    fn_add(k, hi, lo);
    wipe(hi, sizeof hi);
    wipe(lo, sizeof lo);
}

/* The rest of a signature attempt once xm, the affine x of kG (Montgomery form), is known:
 * r = (e + x1) mod n, s = (1+d)^-1 (k + r) - r. Returns 1 and writes r, s; or 0 when this k
 * must be rejected (k = 0, r = 0, r + k = n or s = 0). Constant time up to that outcome. */
static int sign_finish(unsigned char r_out[32], unsigned char s_out[32], const u64 dinv[4],
                       const u64 e[4], const u64 k[4], const u64 xm[4])
{
    struct {
        u64 x[4], kr[4], dm[4];
    } sec;
    u64 r[4], s[4], ee[4], t[4], bad;
    fp_from_mont(sec.x, xm);
    fn_reduce(sec.x, sec.x);  /* x1 < p < 2n */
    fn_reduce(ee, e);         /* e < 2^256 < 2n */
    fn_add(r, ee, sec.x);     /* r = (e + x1) mod n */
    fn_add(sec.kr, k, r);     /* k + r: zero exactly when r + k = n (or both are 0) */
    bad = is_zero4(k) | is_zero4(r) | is_zero4(sec.kr);
    fn_mul(sec.dm, dinv, FN_R2);      /* (1+d)^-1 in Montgomery form */
    fn_mul(t, sec.dm, sec.kr);        /* (1+d)^-1 (k + r), plain */
    fn_sub(s, t, r);                  /* = (1+d)^-1 (k - r d) */
    bad |= is_zero4(s);
    store_be32(r_out, r);
    store_be32(s_out, s);
    wipe(&sec, sizeof sec);
    wipe(t, sizeof t);
    return (int)(~bad & 1);
}

/* One SM2 signature attempt (GB/T 32918.2, 6.1) with nonce k < n and dinv = (1+d)^-1 mod n
 * (plain, not Montgomery); see sign_finish. */
static int sign_core(unsigned char r_out[32], unsigned char s_out[32], const u64 dinv[4],
                     const u64 e[4], const u64 k[4])
{
    struct {
        ppt q;
        apt a;
    } sec;
    int ok;
    ct_mul_base(&sec.q, k);
    pt_to_affine(&sec.a, &sec.q); /* k = 0 gives Z = 0 and x = 0: rejected by sign_finish */
    ok = sign_finish(r_out, s_out, dinv, e, k, sec.a.x);
    wipe(&sec, sizeof sec);
    return ok;
}

/* count signature attempts (nonces k[i], digests e[i]) sharing one field inversion
 * (Montgomery's trick: 3 multiplications a signature instead of an inversion, which costs
 * about a third of one). Writes r||s of attempt i at rs + 64 i and ok[i] (0: that k must be
 * rejected, as in sign_finish). q and prefix are scratch for count points and field
 * elements. The same operations run whatever the values: constant time. */
static void sign_batch_core(unsigned char *rs, unsigned char *ok, const u64 dinv[4],
                            const u64 (*e)[4], const u64 (*k)[4], size_t count, ppt *q,
                            u64 (*prefix)[4])
{
    u64 inv[4], zinv[4], xm[4];
    for (size_t i = 0; i < count; i++) {
        ct_mul_base(&q[i], k[i]);
        /* Z = 0 only for k = 0 (infinity, X = 0): use Z = 1 so the product stays usable;
         * that attempt is still rejected, by k = 0 */
        select4(q[i].Z, is_zero4(q[i].Z), FP_ONE, q[i].Z);
        if (i == 0)
            memcpy(prefix[0], q[0].Z, 32);
        else
            fp_mul(prefix[i], prefix[i - 1], q[i].Z);
    }
    fp_inv(inv, prefix[count - 1]);
    for (size_t i = count - 1; i > 0; i--) {
        fp_mul(zinv, inv, prefix[i - 1]); /* 1 / Z_i */
        fp_mul(inv, inv, q[i].Z);         /* 1 / (Z_0 ... Z_{i-1}) */
        fp_mul(xm, q[i].X, zinv);
        ok[i] = (unsigned char)sign_finish(rs + 64 * i, rs + 64 * i + 32, dinv, e[i], k[i], xm);
    }
    fp_mul(xm, q[0].X, inv);
    ok[0] = (unsigned char)sign_finish(rs, rs + 32, dinv, e[0], k[0], xm);
    wipe(inv, sizeof inv);
    wipe(zinv, sizeof zinv);
    wipe(xm, sizeof xm);
}

/* Verification core (GB/T 32918.2, 7.1); P's table may be NULL. */
static int verify_core(const apt *pub, const apt *table, const u64 e[4], const u64 r[4],
                       const u64 s[4])
{
    u64 t[4], ee[4], v[4], vm[4], chk[4];
    ppt acc, tp;
    u128 c;
    u64 carry = 0;
    /* 1 <= r, s <= n - 1 */
    if (is_zero4(r) || is_zero4(s) || !mask_less(r, N_) || !mask_less(s, N_))
        return 0;
    fn_add(t, r, s);
    if (is_zero4(t))
        return 0;
    pt_set_infinity(&acc);
    vt_add_comb(&acc, G_TAB, G_W, G_ROWS, s);
    if (table != NULL) {
        vt_add_comb(&acc, table, PK_W, PK_ROWS, t);
    } else {
        vt_mul(&tp, pub, t);
        pt_add(&acc, &acc, &tp);
    }
    if (is_zero4(acc.Z))
        return 0;
    /* x1 = X/Z must be congruent to r - e mod n; x1 < p, so x1 = v or v + n. */
    fn_reduce(ee, e);
    fn_sub(v, r, ee);
    fp_to_mont(vm, v);
    fp_mul(chk, vm, acc.Z);
    if (is_equal4(chk, acc.X))
        return 1;
    for (int i = 0; i < 4; i++) {
        c = (u128)v[i] + N_[i] + carry;
        v[i] = (u64)c;
        carry = (u64)(c >> 64);
    }
    if (carry || !mask_less(v, P_))
        return 0;
    fp_to_mont(vm, v);
    fp_mul(chk, vm, acc.Z);
    return (int)(is_equal4(chk, acc.X) & 1);
}

/* ------------------------------------------------------------------------ Python glue */

/* 32 bytes from a bytes object into limbs; -1 with TypeError/ValueError otherwise. */
static int arg_bytes(PyObject *obj, Py_ssize_t size, const char *what, unsigned char **out)
{
    if (!PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be bytes, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (PyBytes_GET_SIZE(obj) != size) {
        PyErr_Format(PyExc_ValueError, "%s must be %zd bytes, not %zd", what, size,
                     PyBytes_GET_SIZE(obj));
        return -1;
    }
    *out = (unsigned char *)PyBytes_AS_STRING(obj);
    return 0;
}

static int arg_scalar(PyObject *obj, const char *what, u64 out[4])
{
    unsigned char *b;
    if (arg_bytes(obj, 32, what, &b) < 0)
        return -1;
    load_be32(out, b);
    return 0;
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

/* A private scalar in [1, n - 1 - extra]; ValueError otherwise. */
static int arg_secret(PyObject *obj, u64 d[4], int extra)
{
    u64 limit[4];
    memcpy(limit, N_, 32);
    limit[0] -= (u64)extra; /* n's low limb is far from 0 */
    if (arg_scalar(obj, "secret", d) < 0)
        return -1;
    if ((is_zero4(d) | ~mask_less(d, limit)) & 1) {
        wipe(d, 32);
        PyErr_SetString(PyExc_ValueError, extra ? "secret must be in [1, n-2]"
                                                : "secret must be in [1, n-1]");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(derive_point_doc,
             "derive_point(secret, /)\n--\n\n"
             "The public point secret*G as 64 bytes x||y (secret: 32 bytes big-endian in "
             "[1, n-1]); constant time.");

static PyObject *py_derive_point(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    u64 d[4];
    ppt q;
    apt a;
    unsigned char out[64];
    if (check_nargs("derive_point", nargs, 1) < 0 || arg_secret(args[0], d, 0) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    ct_mul_base(&q, d);
    pt_to_affine(&a, &q);
    fp_from_mont(a.x, a.x);
    fp_from_mont(a.y, a.y);
    Py_END_ALLOW_THREADS
    store_be32(out, a.x);
    store_be32(out + 32, a.y);
    wipe(d, sizeof d);
    wipe(&q, sizeof q);
    wipe(&a, sizeof a);
    return PyBytes_FromStringAndSize((const char *)out, 64);
}

PyDoc_STRVAR(sign_setup_doc,
             "sign_setup(secret, /)\n--\n\n"
             "(1+d)^-1 mod n as 32 bytes big-endian, for a private key d in [1, n-2]; "
             "constant time.");

static PyObject *py_sign_setup(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    static const u64 one[4] = {1, 0, 0, 0};
    u64 d[4], t[4];
    unsigned char out[32];
    PyObject *res;
    if (check_nargs("sign_setup", nargs, 1) < 0 || arg_secret(args[0], d, 1) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    fn_add(t, d, one);   /* 1 + d < n */
    fn_mul(t, t, FN_R2); /* Montgomery form */
    fn_inv(t, t);
    fn_mul(t, t, one); /* plain */
    Py_END_ALLOW_THREADS
    store_be32(out, t);
    res = PyBytes_FromStringAndSize((const char *)out, 32);
    wipe(d, sizeof d);
    wipe(t, sizeof t);
    wipe(out, sizeof out);
    return res;
}

static PyObject *sign_result(int ok, const unsigned char *r, const unsigned char *s)
{
    if (!ok)
        Py_RETURN_NONE;
    PyObject *rb = PyBytes_FromStringAndSize((const char *)r, 32);
    PyObject *sb = rb ? PyBytes_FromStringAndSize((const char *)s, 32) : NULL;
    PyObject *res = sb ? PyTuple_Pack(2, rb, sb) : NULL;
    Py_XDECREF(rb);
    Py_XDECREF(sb);
    return res;
}

static int arg_dinv(PyObject *obj, u64 out[4])
{
    if (arg_scalar(obj, "dinv", out) < 0)
        return -1;
    if ((is_zero4(out) | ~mask_less(out, N_)) & 1) {
        wipe(out, 32);
        PyErr_SetString(PyExc_ValueError, "dinv must be in [1, n-1]");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(sign_doc,
             "sign(dinv, digest, randomness, /)\n--\n\n"
             "One SM2 signature attempt: dinv = sign_setup(d), digest = e = SM3(Z||M) (32 "
             "bytes), randomness = 64 fresh bytes from the OS (k = randomness mod n). Returns "
             "(r, s) as 32-byte big-endian values, or None when this k must be rejected "
             "(call again with new randomness). Constant time in d and k.");

static PyObject *py_sign(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    u64 dinv[4], e[4], k[4];
    unsigned char *rnd, r[32], s[32];
    int ok;
    if (check_nargs("sign", nargs, 3) < 0 || arg_dinv(args[0], dinv) < 0)
        return NULL;
    if (arg_scalar(args[1], "digest", e) < 0 || arg_bytes(args[2], 64, "randomness", &rnd) < 0) {
        wipe(dinv, sizeof dinv);
        return NULL;
    }
    nonce_from_bytes(k, rnd);
    Py_BEGIN_ALLOW_THREADS
    ok = sign_core(r, s, dinv, e, k);
    Py_END_ALLOW_THREADS
    wipe(dinv, sizeof dinv);
    wipe(k, sizeof k);
    return sign_result(ok, r, s);
}

PyDoc_STRVAR(sign_with_k_doc,
             "sign_with_k(dinv, digest, k, /)\n--\n\n"
             "TESTS ONLY (known-answer vectors): sign with the given nonce k (32 bytes, in "
             "[1, n-1]). Returns (r, s) or None like sign().");

static PyObject *py_sign_with_k(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    u64 dinv[4], e[4], k[4];
    unsigned char r[32], s[32];
    int ok;
    if (check_nargs("sign_with_k", nargs, 3) < 0 || arg_dinv(args[0], dinv) < 0)
        return NULL;
    if (arg_scalar(args[1], "digest", e) < 0 || arg_secret(args[2], k, 0) < 0) {
        wipe(dinv, sizeof dinv);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    ok = sign_core(r, s, dinv, e, k);
    Py_END_ALLOW_THREADS
    wipe(dinv, sizeof dinv);
    wipe(k, sizeof k);
    return sign_result(ok, r, s);
}

#define SIGN_MANY_MAX 100000

/* sign_many / sign_many_with_k: count = len(digests) / 32 attempts; nonces from 64 random
 * bytes each (given = 0) or given as 32 bytes each, in [0, n-1] (given = 1, tests only). */
static PyObject *sign_many_impl(PyObject *const *args, Py_ssize_t nargs, int given)
{
    const char *name = given ? "sign_many_with_k" : "sign_many";
    Py_ssize_t count, per = given ? 32 : 64;
    u64 dinv[4], (*e)[4] = NULL, (*k)[4] = NULL, (*prefix)[4] = NULL;
    ppt *q = NULL;
    unsigned char *digests, *material, *rs, *ok;
    PyObject *rs_obj = NULL, *ok_obj = NULL, *res = NULL;
    if (check_nargs(name, nargs, 3) < 0)
        return NULL;
    if (!PyBytes_Check(args[1]) || !PyBytes_Check(args[2])) {
        PyErr_Format(PyExc_TypeError, "%s: digests and nonce material must be bytes", name);
        return NULL;
    }
    count = PyBytes_GET_SIZE(args[1]) / 32;
    if (count < 1 || count > SIGN_MANY_MAX || PyBytes_GET_SIZE(args[1]) != 32 * count ||
        PyBytes_GET_SIZE(args[2]) != per * count) {
        PyErr_Format(PyExc_ValueError,
                     "%s: digests must be 32 bytes each (1 to %d of them) and the nonce "
                     "material %zd bytes for each",
                     name, SIGN_MANY_MAX, per);
        return NULL;
    }
    if (arg_dinv(args[0], dinv) < 0)
        return NULL;
    digests = (unsigned char *)PyBytes_AS_STRING(args[1]);
    material = (unsigned char *)PyBytes_AS_STRING(args[2]);
    e = PyMem_Malloc((size_t)count * sizeof *e);
    k = PyMem_Malloc((size_t)count * sizeof *k);
    prefix = PyMem_Malloc((size_t)count * sizeof *prefix);
    q = PyMem_Malloc((size_t)count * sizeof *q);
    rs_obj = PyBytes_FromStringAndSize(NULL, 64 * count);
    ok_obj = PyBytes_FromStringAndSize(NULL, count);
    if (e == NULL || k == NULL || prefix == NULL || q == NULL || rs_obj == NULL ||
        ok_obj == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        load_be32(e[i], digests + 32 * i);
        if (given) {
            load_be32(k[i], material + 32 * i);
            if (!(mask_less(k[i], N_) & 1)) {
                PyErr_SetString(PyExc_ValueError, "sign_many_with_k: k must be in [0, n-1]");
                goto done;
            }
        } else {
            nonce_from_bytes(k[i], material + 64 * i);
        }
    }
    rs = (unsigned char *)PyBytes_AS_STRING(rs_obj);
    ok = (unsigned char *)PyBytes_AS_STRING(ok_obj);
    Py_BEGIN_ALLOW_THREADS
    sign_batch_core(rs, ok, dinv, (const u64(*)[4])e, (const u64(*)[4])k, (size_t)count, q,
                    prefix);
    Py_END_ALLOW_THREADS
    res = PyTuple_Pack(2, rs_obj, ok_obj);
done:
    wipe(dinv, sizeof dinv);
    if (k != NULL)
        wipe(k, (size_t)count * sizeof *k);
    if (q != NULL)
        wipe(q, (size_t)count * sizeof *q);
    if (prefix != NULL)
        wipe(prefix, (size_t)count * sizeof *prefix);
    PyMem_Free(e);
    PyMem_Free(k);
    PyMem_Free(prefix);
    PyMem_Free(q);
    Py_XDECREF(rs_obj);
    Py_XDECREF(ok_obj);
    return res;
}

PyDoc_STRVAR(sign_many_doc,
             "sign_many(dinv, digests, randomness, /)\n--\n\n"
             "Many SM2 signature attempts with one key, sharing one field inversion: digests "
             "= the digests e, 32 bytes each, concatenated; randomness = 64 fresh bytes from "
             "the OS for each. Returns (rs, ok): r||s (64 bytes) of attempt i at 64*i, and "
             "ok[i] = 0 where that nonce must be rejected (sign it again). Constant time in "
             "d and the nonces.");

static PyObject *py_sign_many(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    return sign_many_impl(args, nargs, 0);
}

PyDoc_STRVAR(sign_many_with_k_doc,
             "sign_many_with_k(dinv, digests, ks, /)\n--\n\n"
             "TESTS ONLY: sign_many with the given nonces (32 bytes each, in [0, n-1]; 0 is "
             "rejected like any bad nonce).");

static PyObject *py_sign_many_with_k(PyObject *Py_UNUSED(m), PyObject *const *args,
                                     Py_ssize_t nargs)
{
    return sign_many_impl(args, nargs, 1);
}

/* ---------------------------------------------------------------- the PublicKey type */

typedef struct {
    PyObject_HEAD
    apt pub;    /* Montgomery form */
    apt *table; /* comb of pub (PK_W), NULL until built */
    Py_ssize_t uses;
} PublicKeyObject;

static PyObject *PublicKey_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    unsigned char *xy;
    PublicKeyObject *self;
    apt a;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "PublicKey() takes no keyword arguments");
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) != 1) {
        PyErr_SetString(PyExc_TypeError, "PublicKey() takes exactly one argument (x||y)");
        return NULL;
    }
    if (arg_bytes(PyTuple_GET_ITEM(args, 0), 64, "point", &xy) < 0)
        return NULL;
    load_be32(a.x, xy);
    load_be32(a.y, xy + 32);
    if (!mask_less(a.x, P_) || !mask_less(a.y, P_)) {
        PyErr_SetString(PyExc_ValueError, "point coordinates are not field elements");
        return NULL;
    }
    fp_to_mont(a.x, a.x);
    fp_to_mont(a.y, a.y);
    if (!on_curve(&a)) {
        PyErr_SetString(PyExc_ValueError, "point is not on the curve sm2p256v1");
        return NULL;
    }
    self = (PublicKeyObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->pub = a;
    self->table = NULL;
    self->uses = 0;
    return (PyObject *)self;
}

static void PublicKey_dealloc(PublicKeyObject *self)
{
    PyMem_RawFree(self->table);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The key's comb table, built now if missing (GIL released while building). */
static apt *PublicKey_table(PublicKeyObject *self)
{
    apt *t;
    int rc;
    if (self->table != NULL)
        return self->table;
    t = PyMem_RawMalloc((size_t)PK_ROWS * PK_ENTRIES * sizeof(apt));
    if (t == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = build_comb(t, &self->pub, PK_W, PK_ROWS);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyMem_RawFree(t);
        PyErr_NoMemory();
        return NULL;
    }
    if (self->table == NULL) /* another thread may have won the race meanwhile */
        self->table = t;
    else
        PyMem_RawFree(t);
    return self->table;
}

PyDoc_STRVAR(PublicKey_verify_doc,
             "verify(digest, r, s, /)\n--\n\n"
             "True when (r, s) (32-byte big-endian each) is a valid SM2 signature of the "
             "digest e = SM3(Z||M) under this key. Checks 1 <= r, s <= n-1, t = r + s != 0 "
             "mod n, the result not infinity and (e + x1) mod n == r. The key's table is built "
             "on its 8th verification (or by precompute()).");

static PyObject *PublicKey_verify(PublicKeyObject *self, PyObject *const *args,
                                  Py_ssize_t nargs)
{
    u64 e[4], r[4], s[4];
    apt *table;
    int ok;
    if (check_nargs("verify", nargs, 3) < 0 || arg_scalar(args[0], "digest", e) < 0 ||
        arg_scalar(args[1], "r", r) < 0 || arg_scalar(args[2], "s", s) < 0)
        return NULL;
    table = self->table;
    if (table == NULL && self->uses >= TABLE_AFTER_USES) {
        table = PublicKey_table(self);
        if (table == NULL)
            return NULL;
    }
    self->uses++;
    Py_BEGIN_ALLOW_THREADS
    ok = verify_core(&self->pub, table, e, r, s);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(ok);
}

PyDoc_STRVAR(PublicKey_precompute_doc,
             "precompute()\n--\n\nBuild this key's table now (else: on its 8th verification).");

static PyObject *PublicKey_precompute(PublicKeyObject *self, PyObject *Py_UNUSED(ignored))
{
    if (PublicKey_table(self) == NULL)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *PublicKey_get_precomputed(PublicKeyObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->table != NULL);
}

static PyObject *PublicKey_get_point(PublicKeyObject *self, void *Py_UNUSED(closure))
{
    unsigned char out[64];
    u64 t[4];
    fp_from_mont(t, self->pub.x);
    store_be32(out, t);
    fp_from_mont(t, self->pub.y);
    store_be32(out + 32, t);
    return PyBytes_FromStringAndSize((const char *)out, 64);
}

static PyMethodDef PublicKey_methods[] = {
    {"verify", (PyCFunction)(void (*)(void))PublicKey_verify, METH_FASTCALL,
     PublicKey_verify_doc},
    {"precompute", (PyCFunction)(void (*)(void))PublicKey_precompute, METH_NOARGS,
     PublicKey_precompute_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef PublicKey_getset[] = {
    {"precomputed", (getter)PublicKey_get_precomputed, NULL, "Whether the table is built.",
     NULL},
    {"point", (getter)PublicKey_get_point, NULL, "The point as 64 bytes x||y.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(PublicKey_doc,
             "PublicKey(point, /)\n--\n\n"
             "An SM2 public key (64 bytes x||y, checked to be on the curve) for verification.");

static PyTypeObject PublicKeyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "seals._sm2p256.PublicKey",
    .tp_basicsize = sizeof(PublicKeyObject),
    .tp_itemsize = 0,
    .tp_dealloc = (destructor)PublicKey_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = PublicKey_doc,
    .tp_methods = PublicKey_methods,
    .tp_getset = PublicKey_getset,
    .tp_new = PublicKey_new,
};

/* ------------------------------------------------------------------------ module init */

static int parse_hex(u64 r[4], const char *hex)
{
    unsigned char b[32];
    for (int i = 0; i < 32; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            int n = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                             : -1;
            if (n < 0)
                return -1;
            v = v * 16 + n;
        }
        b[i] = (unsigned char)v;
    }
    load_be32(r, b);
    return 0;
}

/* R^2 mod m by doubling R mod m = 2^256 - m 256 times. */
static void compute_r2(u64 one[4], u64 r2[4], const u64 m[4])
{
    u128 c = 1;
    for (int i = 0; i < 4; i++) { /* 2^256 - m = ~m + 1 */
        c += (u64)~m[i];
        one[i] = (u64)c;
        c >>= 64;
    }
    memcpy(r2, one, 32);
    for (int i = 0; i < 256; i++)
        mod_add(r2, r2, r2, m);
}

static int init_curve(void)
{
    static int done = 0;
    static const u64 one[4] = {1, 0, 0, 0};
    u64 p[4], n[4], b[4], t[4], u[4];
    ppt q;
    apt a;
    if (done)
        return 0;
    if (parse_hex(p, "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF") ||
        parse_hex(n, "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123") ||
        parse_hex(b, "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93") ||
        parse_hex(G_AFF.x, "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7") ||
        parse_hex(G_AFF.y, "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"))
        goto fail;
    if (!(is_equal4(p, P_) & is_equal4(n, N_) & 1) || N_[0] * N_MINV != (u64)-1)
        goto fail;
    compute_r2(FP_ONE, FP_R2, P_);
    compute_r2(FN_ONE, FN_R2, N_);
    fp_to_mont(FP_B, b);
    fp_to_mont(G_AFF.x, G_AFF.x);
    fp_to_mont(G_AFF.y, G_AFF.y);
    if (!on_curve(&G_AFF))
        goto fail;
    /* inverses */
    fp_inv(t, G_AFF.x);
    fp_mul(t, t, G_AFF.x);
    if (!(is_equal4(t, FP_ONE) & 1))
        goto fail;
    fn_mul(u, G_AFF.y, FN_R2); /* any value < n */
    fn_inv(t, u);
    fn_mul(t, t, u);
    if (!(is_equal4(t, FN_ONE) & 1))
        goto fail;
    if (build_comb(G_TAB, &G_AFF, G_W, G_ROWS) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    /* (n-1)*G = -G, through the constant-time path and the table */
    memcpy(u, N_, 32);
    u[0] -= 1;
    ct_mul_base(&q, u);
    pt_to_affine(&a, &q);
    fp_neg(t, a.y);
    if (!(is_equal4(a.x, G_AFF.x) & is_equal4(t, G_AFF.y) & 1))
        goto fail;
    /* 1*G through the comb is G */
    ct_mul_base(&q, one);
    pt_to_affine(&a, &q);
    if (!(is_equal4(a.x, G_AFF.x) & is_equal4(a.y, G_AFF.y) & 1))
        goto fail;
    done = 1;
    return 0;
fail:
    PyErr_SetString(PyExc_ImportError, "seals._sm2p256: arithmetic self-test failed");
    return -1;
}

static PyMethodDef module_methods[] = {
    {"derive_point", (PyCFunction)(void (*)(void))py_derive_point, METH_FASTCALL,
     derive_point_doc},
    {"sign_setup", (PyCFunction)(void (*)(void))py_sign_setup, METH_FASTCALL, sign_setup_doc},
    {"sign", (PyCFunction)(void (*)(void))py_sign, METH_FASTCALL, sign_doc},
    {"sign_with_k", (PyCFunction)(void (*)(void))py_sign_with_k, METH_FASTCALL, sign_with_k_doc},
    {"sign_many", (PyCFunction)(void (*)(void))py_sign_many, METH_FASTCALL, sign_many_doc},
    {"sign_many_with_k", (PyCFunction)(void (*)(void))py_sign_many_with_k, METH_FASTCALL,
     sign_many_with_k_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc, "SM2 (GB/T 32918.2) signing and verification on sm2p256v1 in C.\n\n"
                         "Used by seals.sm2.NativeBackend; see seals/_sm2p256.c for the design.");

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "seals._sm2p256", module_doc, -1, module_methods,
    NULL,                  NULL,             NULL,       NULL,
};

PyMODINIT_FUNC PyInit__sm2p256(void)
{
    PyObject *m;
    if (init_curve() < 0)
        return NULL;
    if (PyType_Ready(&PublicKeyType) < 0)
        return NULL;
    m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    Py_INCREF(&PublicKeyType);
    if (PyModule_AddObject(m, "PublicKey", (PyObject *)&PublicKeyType) < 0) {
        Py_DECREF(&PublicKeyType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
