/* gguf-gpu: byte layouts of the ggml block types the library decodes.
 *
 * One packed struct per type, fields in file order, little-endian. fp16 fields are raw uint16_t
 * bit patterns (gg_h2f converts them exactly). The structs document the layouts and pin their
 * sizes; the kernels read blocks as bytes at the offsets named by the GG_OFF_* constants, which
 * are checked against the structs below.
 *
 * Usable from host and device code (plain constexpr values, no CUDA needed).
 */
#ifndef GG_BLOCKS_H
#define GG_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

/* ggml type ids (src/gguf/ggml-types.ts). */
enum gg_ggml_type {
  GG_TYPE_F32 = 0,
  GG_TYPE_F16 = 1,
  GG_TYPE_BF16 = 30,
  GG_TYPE_Q4_0 = 2,
  GG_TYPE_Q4_1 = 3,
  GG_TYPE_Q5_0 = 6,
  GG_TYPE_Q5_1 = 7,
  GG_TYPE_Q8_0 = 8,
  GG_TYPE_Q2_K = 10,
  GG_TYPE_Q3_K = 11,
  GG_TYPE_Q4_K = 12,
  GG_TYPE_Q5_K = 13,
  GG_TYPE_Q6_K = 14,
  GG_TYPE_IQ4_NL = 20,
  GG_TYPE_IQ4_XS = 23
};

#define GG_QK32 32   /* weights per block of the legacy types and IQ4_NL */
#define GG_QK_K 256  /* weights per super-block of the k-quants and IQ4_XS */

#pragma pack(push, 1)

typedef struct {
  uint16_t d;       /* fp16 scale */
  uint8_t qs[16];   /* byte j: weight j (low nibble), weight j+16 (high nibble) */
} gg_block_q4_0;
static_assert(sizeof(gg_block_q4_0) == 18, "Q4_0 block must be 18 bytes");

typedef struct {
  uint16_t d;       /* fp16 scale */
  uint16_t m;       /* fp16 min */
  uint8_t qs[16];
} gg_block_q4_1;
static_assert(sizeof(gg_block_q4_1) == 20, "Q4_1 block must be 20 bytes");

typedef struct {
  uint16_t d;
  uint8_t qh[4];    /* bit i (little-endian u32): 5th bit of weight i */
  uint8_t qs[16];
} gg_block_q5_0;
static_assert(sizeof(gg_block_q5_0) == 22, "Q5_0 block must be 22 bytes");

typedef struct {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
} gg_block_q5_1;
static_assert(sizeof(gg_block_q5_1) == 24, "Q5_1 block must be 24 bytes");

typedef struct {
  uint16_t d;
  int8_t qs[32];
} gg_block_q8_0;
static_assert(sizeof(gg_block_q8_0) == 34, "Q8_0 block must be 34 bytes");

typedef struct {
  uint8_t scales[16]; /* low nibble: scale, high nibble: min, per 16 weights */
  uint8_t qs[64];     /* 2-bit quants */
  uint16_t d;         /* fp16 super-block scale for the scales */
  uint16_t dmin;      /* fp16 super-block scale for the mins */
} gg_block_q2_K;
static_assert(sizeof(gg_block_q2_K) == 84, "Q2_K block must be 84 bytes");

typedef struct {
  uint8_t hmask[32];  /* high bit of each quant */
  uint8_t qs[64];     /* low 2 bits */
  uint8_t scales[12]; /* 16 scales of 6 bits */
  uint16_t d;
} gg_block_q3_K;
static_assert(sizeof(gg_block_q3_K) == 110, "Q3_K block must be 110 bytes");

typedef struct {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12]; /* 8 (scale, min) pairs of 6 bits */
  uint8_t qs[128];
} gg_block_q4_K;
static_assert(sizeof(gg_block_q4_K) == 144, "Q4_K block must be 144 bytes");

typedef struct {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
} gg_block_q5_K;
static_assert(sizeof(gg_block_q5_K) == 176, "Q5_K block must be 176 bytes");

typedef struct {
  uint8_t ql[128];    /* low 4 bits */
  uint8_t qh[64];     /* high 2 bits */
  int8_t scales[16];  /* 8-bit scales, one per 16 weights */
  uint16_t d;         /* fp16, LAST */
} gg_block_q6_K;
static_assert(sizeof(gg_block_q6_K) == 210, "Q6_K block must be 210 bytes");

typedef struct {
  uint16_t d;
  uint8_t qs[16];     /* nibbles index kvalues_iq4nl */
} gg_block_iq4_nl;
static_assert(sizeof(gg_block_iq4_nl) == 18, "IQ4_NL block must be 18 bytes");

typedef struct {
  uint16_t d;
  uint16_t scales_h;  /* high 2 bits of the 8 sub-block scales */
  uint8_t scales_l[4];/* low 4 bits */
  uint8_t qs[128];
} gg_block_iq4_xs;
static_assert(sizeof(gg_block_iq4_xs) == 136, "IQ4_XS block must be 136 bytes");

#pragma pack(pop)

/* Byte offsets of the fields, as the kernels use them. */
#define GG_OFF(T, F) ((int)offsetof(T, F))
static_assert(GG_OFF(gg_block_q4_1, qs) == 4, "layout");
static_assert(GG_OFF(gg_block_q5_0, qh) == 2 && GG_OFF(gg_block_q5_0, qs) == 6, "layout");
static_assert(GG_OFF(gg_block_q5_1, qh) == 4 && GG_OFF(gg_block_q5_1, qs) == 8, "layout");
static_assert(GG_OFF(gg_block_q2_K, qs) == 16 && GG_OFF(gg_block_q2_K, d) == 80 &&
                  GG_OFF(gg_block_q2_K, dmin) == 82, "layout");
static_assert(GG_OFF(gg_block_q3_K, qs) == 32 && GG_OFF(gg_block_q3_K, scales) == 96 &&
                  GG_OFF(gg_block_q3_K, d) == 108, "layout");
static_assert(GG_OFF(gg_block_q4_K, scales) == 4 && GG_OFF(gg_block_q4_K, qs) == 16, "layout");
static_assert(GG_OFF(gg_block_q5_K, qh) == 16 && GG_OFF(gg_block_q5_K, qs) == 48, "layout");
static_assert(GG_OFF(gg_block_q6_K, qh) == 128 && GG_OFF(gg_block_q6_K, scales) == 192 &&
                  GG_OFF(gg_block_q6_K, d) == 208, "layout");
static_assert(GG_OFF(gg_block_iq4_xs, scales_l) == 4 && GG_OFF(gg_block_iq4_xs, qs) == 8, "layout");

/* Per-type constants: weights per block (QK) and bytes per block (TS). */
template <int TYPE> struct gg_block_info;
#define GG_BLOCK_INFO(TYPE, STRUCT, QKV)                                        \
  template <> struct gg_block_info<TYPE> {                                      \
    typedef STRUCT block;                                                       \
    static constexpr int QK = QKV;                                              \
    static constexpr int TS = (int)sizeof(STRUCT);                              \
  };
GG_BLOCK_INFO(GG_TYPE_Q4_0, gg_block_q4_0, GG_QK32)
GG_BLOCK_INFO(GG_TYPE_Q4_1, gg_block_q4_1, GG_QK32)
GG_BLOCK_INFO(GG_TYPE_Q5_0, gg_block_q5_0, GG_QK32)
GG_BLOCK_INFO(GG_TYPE_Q5_1, gg_block_q5_1, GG_QK32)
GG_BLOCK_INFO(GG_TYPE_Q8_0, gg_block_q8_0, GG_QK32)
GG_BLOCK_INFO(GG_TYPE_Q2_K, gg_block_q2_K, GG_QK_K)
GG_BLOCK_INFO(GG_TYPE_Q3_K, gg_block_q3_K, GG_QK_K)
GG_BLOCK_INFO(GG_TYPE_Q4_K, gg_block_q4_K, GG_QK_K)
GG_BLOCK_INFO(GG_TYPE_Q5_K, gg_block_q5_K, GG_QK_K)
GG_BLOCK_INFO(GG_TYPE_Q6_K, gg_block_q6_K, GG_QK_K)
GG_BLOCK_INFO(GG_TYPE_IQ4_NL, gg_block_iq4_nl, GG_QK32)
GG_BLOCK_INFO(GG_TYPE_IQ4_XS, gg_block_iq4_xs, GG_QK_K)
#undef GG_BLOCK_INFO

/* Run-time lookup of the same table: false for types this library cannot decode. */
static inline bool gg_block_layout(int type, int* qk, int* ts) {
  int q = 0, t = 0;
  switch (type) {
#define GG_CASE(TY) case TY: q = gg_block_info<TY>::QK; t = gg_block_info<TY>::TS; break;
    GG_CASE(GG_TYPE_Q4_0) GG_CASE(GG_TYPE_Q4_1) GG_CASE(GG_TYPE_Q5_0) GG_CASE(GG_TYPE_Q5_1)
    GG_CASE(GG_TYPE_Q8_0) GG_CASE(GG_TYPE_Q2_K) GG_CASE(GG_TYPE_Q3_K) GG_CASE(GG_TYPE_Q4_K)
    GG_CASE(GG_TYPE_Q5_K) GG_CASE(GG_TYPE_Q6_K) GG_CASE(GG_TYPE_IQ4_NL) GG_CASE(GG_TYPE_IQ4_XS)
#undef GG_CASE
    /* plain element types: one weight per "block" */
    case GG_TYPE_F32: q = 1; t = 4; break;
    case GG_TYPE_F16: q = 1; t = 2; break;
    case GG_TYPE_BF16: q = 1; t = 2; break;
    default: return false;
  }
  if (qk) *qk = q;
  if (ts) *ts = t;
  return true;
}

/* ggml's name of a type id, for error messages ("?" for ids this library does not know). */
static inline const char* gg_type_name(int type) {
  switch (type) {
    case GG_TYPE_F32: return "F32";
    case GG_TYPE_F16: return "F16";
    case GG_TYPE_BF16: return "BF16";
    case GG_TYPE_Q4_0: return "Q4_0";
    case GG_TYPE_Q4_1: return "Q4_1";
    case GG_TYPE_Q5_0: return "Q5_0";
    case GG_TYPE_Q5_1: return "Q5_1";
    case GG_TYPE_Q8_0: return "Q8_0";
    case GG_TYPE_Q2_K: return "Q2_K";
    case GG_TYPE_Q3_K: return "Q3_K";
    case GG_TYPE_Q4_K: return "Q4_K";
    case GG_TYPE_Q5_K: return "Q5_K";
    case GG_TYPE_Q6_K: return "Q6_K";
    case GG_TYPE_IQ4_NL: return "IQ4_NL";
    case GG_TYPE_IQ4_XS: return "IQ4_XS";
    default: return "?";
  }
}

/* ggml's kvalues_iq4nl codebook (IQ4_NL and IQ4_XS). */
#define GG_IQ4NL_VALUES {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

/* Q4_K / Q5_K: the 6-bit scale and min number j (0..7) from the 12 scale bytes S (block byte 4 on;
 * every file that includes this one is built by nvcc or hipcc). */
__device__ __forceinline__ void gg_scale_min_k4(const uint8_t* S, int j, int& sc, int& m) {
  if (j < 4) {
    sc = S[j] & 63;
    m = S[j + 4] & 63;
  } else {
    sc = (S[j + 4] & 15) | ((S[j - 4] >> 6) << 4);
    m = (S[j + 4] >> 4) | ((S[j] >> 6) << 4);
  }
}

#endif /* GG_BLOCKS_H */
