// Elementwise programs over lists of tensors: what a custom optimizer component describes and
// the host runs in one pass. A program is a short list of register instructions applied to
// every element; operands are lists of tensors ("slots"), the j-th tensor of every slot
// having the same shape.
//
// The CPU path evaluates the program block by block (512 elements at a time, registers in
// L1) after planning it (below), so each operand is read and written about once per step, as
// in libtorch's fused optimizer kernels. Other devices, dtypes and layouts run the same
// program as whole-tensor ATen ops.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Must match `weft_core::plugin::OpCode` (Rust, `#[repr(u8)]`).
enum Op : uint8_t {
  LOAD = 0,   // dst <- operand[a]
  STORE = 1,  // operand[a] <- reg[b]
  CONST = 2,  // dst <- imm
  ADD = 3,    // dst <- a + b
  SUB = 4,    // dst <- a - b
  MUL = 5,    // dst <- a * b
  DIV = 6,    // dst <- a / b
  MULADD = 7, // dst <- a * b + c (two roundings)
  NEG = 8,    // dst <- -a
  ABS = 9,    // dst <- |a|
  SQRT = 10,  // dst <- sqrt(a)
  MAX = 11,   // dst <- max(a, b), NaN if either is NaN
  MIN = 12,   // dst <- min(a, b), NaN if either is NaN
  SIGN = 13,  // dst <- sign(a) (0 for 0, NaN for NaN)
};

// Must match `weft_core::plugin::Instr` (`#[repr(C)]`).
struct Instr {
  uint8_t op, dst, a, b, c;
  double imm;
};

constexpr int kRegs = 16;
constexpr int64_t kBlock = 512;

char* message(const std::string& what) {
  char* m = static_cast<char*>(std::malloc(what.size() + 1));
  if (m) std::memcpy(m, what.c_str(), what.size() + 1);
  return m;
}

// ---- Planning: done once per call, so the per-block loop does only arithmetic. ----
//
// Three rewrites keep the block loop close to a hand-fused kernel:
// - constants, and operations on constants only, are folded into scalars, and an operation
//   with a scalar input broadcasts it instead of reading a register row;
// - a `load` binds the register to the operand's memory instead of copying it, unless the
//   operand is overwritten while the loaded value is still needed;
// - an operation whose result is stored to an operand writes straight into the operand's
//   memory when that changes nothing observable, and the `store` disappears.

enum Kind : uint8_t { ROW = 0, SCALAR = 1 };

struct Step {
  uint8_t op;
  uint8_t dst;             // register
  uint8_t in[3];           // registers
  uint8_t kinds;           // bit i set: input i is the scalar `value[i]`
  int16_t operand;         // load/store operand; for computations: write into it, or -1
  bool bind;               // load: point at the operand instead of copying
  double value[3];         // scalar inputs; for CONST (a fill), value[0]
};

Step make(uint8_t op, uint8_t dst) {
  Step st{};
  st.op = op;
  st.dst = dst;
  st.operand = -1;
  return st;
}

struct Plan {
  std::vector<Step> steps;
};

int arity(uint8_t op) {
  switch (op) {
    case ADD: case SUB: case MUL: case DIV: case MAX: case MIN: return 2;
    case MULADD: return 3;
    case NEG: case ABS: case SQRT: case SIGN: return 1;
    default: return 0;
  }
}

double fold(uint8_t op, double a, double b, double c) {
  switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    case DIV: return a / b;
    case MULADD: return a * b + c;
    case NEG: return -a;
    case ABS: return std::abs(a);
    case SQRT: return std::sqrt(a);
    case MAX: return (a > b || a != a) ? a : b;
    case MIN: return (a < b || a != a) ? a : b;
    case SIGN: return a > 0 ? 1.0 : (a < 0 ? -1.0 : a);
  }
  return 0;
}

// Whether instruction `i` reads register `r`.
bool reads(const Instr& in, uint8_t r) {
  if (in.op == STORE) return in.b == r;
  const int n = arity(in.op);
  return (n > 0 && in.a == r) || (n > 1 && in.b == r) || (n > 2 && in.c == r);
}

bool defines(const Instr& in, uint8_t r) { return in.op != STORE && in.dst == r; }

// The last instruction that reads the value defined at `k` (or `k` if none).
int64_t last_read(const Instr* prog, int64_t n, int64_t k) {
  const uint8_t r = prog[k].dst;
  int64_t last = k;
  for (int64_t i = k + 1; i < n; ++i) {
    if (reads(prog[i], r)) last = i;
    if (defines(prog[i], r)) break;
  }
  return last;
}

Plan plan(const Instr* prog, int64_t n) {
  Plan p;
  bool is_scalar[kRegs] = {};
  double scalar[kRegs] = {};
  // Which register each load bound to operand memory (to check later writes into it).
  std::vector<int64_t> bound_load;  // instruction indices of bound loads
  std::vector<int64_t> direct(n, -1);  // compute instruction -> operand it writes into
  std::vector<bool> skip_store(n, false);

  // Direct writes: `k` computes r, `j` stores r to s (the first store of that value), and
  // between them nothing loads s, stores s, or redefines r; no other store targets s; and
  // every load of s that precedes k is dead by k (its value never read after k).
  for (int64_t j = 0; j < n; ++j) {
    if (prog[j].op != STORE) continue;
    const uint8_t s = prog[j].a, r = prog[j].b;
    int64_t k = -1;
    for (int64_t i = j - 1; i >= 0; --i) {
      if (defines(prog[i], r)) { k = i; break; }
    }
    if (k < 0 || prog[k].op == LOAD || prog[k].op == CONST || arity(prog[k].op) == 0) continue;
    bool ok = true;
    for (int64_t i = 0; i < n && ok; ++i) {
      if (i != j && prog[i].op == STORE && prog[i].a == s) ok = false;
      if (i > k && i < j && prog[i].op == LOAD && prog[i].a == s) ok = false;
      if (i < k && prog[i].op == LOAD && prog[i].a == s && last_read(prog, n, i) > k) ok = false;
    }
    if (ok) {
      direct[k] = s;
      skip_store[j] = true;
    }
  }

  for (int64_t i = 0; i < n; ++i) {
    const Instr& in = prog[i];
    Step st = make(in.op, in.dst);
    st.in[0] = in.a;
    st.in[1] = in.b;
    st.in[2] = in.c;
    switch (in.op) {
      case CONST:
        scalar[in.dst] = in.imm;
        is_scalar[in.dst] = true;
        continue;
      case LOAD: {
        // Bind unless the operand is overwritten while this value is still read.
        const int64_t until = last_read(prog, n, i);
        bool overwritten = false;
        for (int64_t m = i + 1; m <= until; ++m) {
          if (prog[m].op == STORE && prog[m].a == in.a) overwritten = true;
          if (direct[m] == in.a && m < until) overwritten = true;
        }
        st.operand = in.a;
        st.bind = !overwritten;
        is_scalar[in.dst] = false;
        p.steps.push_back(st);
        continue;
      }
      case STORE:
        if (is_scalar[in.b]) {
          // A stored constant: materialise it in the register's row first.
          Step fill = make(CONST, in.b);
          fill.value[0] = scalar[in.b];
          p.steps.push_back(fill);
          is_scalar[in.b] = false;
        }
        if (skip_store[i]) continue;
        st.operand = in.a;
        p.steps.push_back(st);
        continue;
      default: {
        const int a = arity(in.op);
        bool all = true;
        for (int q = 0; q < a; ++q) {
          if (is_scalar[st.in[q]]) {
            st.kinds |= 1 << q;
            st.value[q] = scalar[st.in[q]];
          } else {
            all = false;
          }
        }
        if (all) {
          scalar[in.dst] = fold(in.op, scalar[in.a], a > 1 ? scalar[in.b] : 0,
                                a > 2 ? scalar[in.c] : 0);
          is_scalar[in.dst] = true;
          if (direct[i] >= 0) {
            // Its store was planned away; keep it as a fill plus store.
            Step fill = make(CONST, in.dst);
            fill.value[0] = scalar[in.dst];
            p.steps.push_back(fill);
            Step store = make(STORE, 0);
            store.in[1] = in.dst;
            store.operand = static_cast<int16_t>(direct[i]);
            p.steps.push_back(store);
            is_scalar[in.dst] = false;
          }
          continue;
        }
        st.operand = static_cast<int16_t>(direct[i]);
        is_scalar[in.dst] = false;
        p.steps.push_back(st);
      }
    }
  }
  return p;
}

// ---- Evaluation ----

// Always inlined, so that each CPU-specific clone of the block loop (below) compiles the
// arithmetic for its own instruction set.
#define WEFT_INLINE inline __attribute__((always_inline))

// Every loop below reads and writes element k only, and its pointers are either the same or
// disjoint (checked before the fast path runs), so there is no loop-carried dependence even
// when an operation writes in place; `ivdep` tells the vectoriser so, which it cannot prove.
#define WEFT_LOOP _Pragma("GCC ivdep") for (int64_t k = 0; k < len; ++k)

template <typename T, typename F>
WEFT_INLINE void binary(T* d, const T* a, const T* b, T sa, T sb, uint8_t kinds, int64_t len, F f) {
  switch (kinds) {
    case 0: WEFT_LOOP d[k] = f(a[k], b[k]); break;
    case 1: WEFT_LOOP d[k] = f(sa, b[k]); break;
    case 2: WEFT_LOOP d[k] = f(a[k], sb); break;
  }
}

template <typename T, typename F>
WEFT_INLINE void unary(T* d, const T* a, int64_t len, F f) {
  WEFT_LOOP d[k] = f(a[k]);
}

template <typename T>
WEFT_INLINE void muladd(T* d, const T* a, const T* b, const T* c, T sa, T sb, T sc, uint8_t kinds,
                   int64_t len) {
  switch (kinds) {
    case 0: WEFT_LOOP d[k] = a[k] * b[k] + c[k]; break;
    case 1: WEFT_LOOP d[k] = sa * b[k] + c[k]; break;
    case 2: WEFT_LOOP d[k] = a[k] * sb + c[k]; break;
    case 3: WEFT_LOOP d[k] = sa * sb + c[k]; break;
    case 4: WEFT_LOOP d[k] = a[k] * b[k] + sc; break;
    case 5: WEFT_LOOP d[k] = sa * b[k] + sc; break;
    case 6: WEFT_LOOP d[k] = a[k] * sb + sc; break;
  }
}

template <typename T>
WEFT_INLINE void run_steps(const Plan& p, T* const* data, int64_t off, int64_t len,
                      T (*rows)[kBlock]) {
  T* rp[kRegs];
  for (int r = 0; r < kRegs; ++r) rp[r] = rows[r];
  for (const Step& st : p.steps) {
    const T* a = rp[st.in[0]];
    const T* b = rp[st.in[1]];
    const T* c = rp[st.in[2]];
    const T sa = static_cast<T>(st.value[0]);
    const T sb = static_cast<T>(st.value[1]);
    const T sc = static_cast<T>(st.value[2]);
    T* d = st.operand >= 0 && st.op != LOAD && st.op != STORE ? data[st.operand] + off
                                                                : rows[st.dst];
    switch (st.op) {
      case LOAD:
        if (st.bind) {
          rp[st.dst] = data[st.operand] + off;
        } else {
          std::memcpy(rows[st.dst], data[st.operand] + off, len * sizeof(T));
          rp[st.dst] = rows[st.dst];
        }
        continue;
      case STORE:
        std::memcpy(data[st.operand] + off, rp[st.in[1]], len * sizeof(T));
        continue;
      case CONST:
        WEFT_LOOP d[k] = sa;
        break;
      case ADD: binary(d, a, b, sa, sb, st.kinds, len, [](T x, T y) { return x + y; }); break;
      case SUB: binary(d, a, b, sa, sb, st.kinds, len, [](T x, T y) { return x - y; }); break;
      case MUL: binary(d, a, b, sa, sb, st.kinds, len, [](T x, T y) { return x * y; }); break;
      case DIV: binary(d, a, b, sa, sb, st.kinds, len, [](T x, T y) { return x / y; }); break;
      case MAX:
        binary(d, a, b, sa, sb, st.kinds, len,
               [](T x, T y) { return (x > y || x != x) ? x : y; });
        break;
      case MIN:
        binary(d, a, b, sa, sb, st.kinds, len,
               [](T x, T y) { return (x < y || x != x) ? x : y; });
        break;
      case MULADD: muladd(d, a, b, c, sa, sb, sc, st.kinds, len); break;
      case NEG: unary(d, a, len, [](T x) { return -x; }); break;
      case ABS: unary(d, a, len, [](T x) { return std::abs(x); }); break;
      case SQRT: unary(d, a, len, [](T x) { return std::sqrt(x); }); break;
      case SIGN:
        unary(d, a, len, [](T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x); });
        break;
    }
    rp[st.dst] = d;
  }
}

// A range of blocks, compiled for AVX2 and for the x86-64 baseline; the loader picks the
// version the CPU supports (GCC function multiversioning).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WEFT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WEFT_CLONES
#endif

#define WEFT_BLOCKS(T, NAME)                                                                  \
  WEFT_CLONES void NAME(const Plan& plan, T* const* data, int64_t numel, int64_t begin,       \
                        int64_t end) {                                                       \
    alignas(64) T rows[kRegs][kBlock];                                                       \
    for (int64_t blk = begin; blk < end; ++blk) {                                            \
      const int64_t off = blk * kBlock;                                                      \
      run_steps<T>(plan, data, off, std::min(kBlock, numel - off), rows);                    \
    }                                                                                        \
  }

WEFT_BLOCKS(float, blocks_f32)
WEFT_BLOCKS(double, blocks_f64)

void blocks(const Plan& p, float* const* d, int64_t numel, int64_t b, int64_t e) {
  blocks_f32(p, d, numel, b, e);
}
void blocks(const Plan& p, double* const* d, int64_t numel, int64_t b, int64_t e) {
  blocks_f64(p, d, numel, b, e);
}

// The tensors of one call that take the fast path, as raw pointers (slot-major per tensor).
template <typename T>
struct Batch {
  std::vector<T*> data;         // tensor j's operands at data[j * slots ...]
  std::vector<int64_t> numel;   // per tensor
  std::vector<int64_t> first;   // per tensor: index of its first block in the whole call
  int64_t blocks = 0;
  size_t slots = 0;
};

template <typename T>
void run_cpu(const Plan& plan, const Batch<T>& batch) {
  // libtorch's intra-op OpenMP pool, as its own kernels use (this file is compiled with
  // -fopenmp against libtorch's libgomp); 64 blocks (32768 elements) at least per task, so
  // small calls stay on the calling thread.
  at::parallel_for(0, batch.blocks, 64, [&](int64_t begin, int64_t end) {
    // The tensor holding block `begin`, then walk forward.
    size_t j = std::upper_bound(batch.first.begin(), batch.first.end(), begin) -
               batch.first.begin() - 1;
    int64_t b = begin;
    while (b < end) {
      const int64_t tensor_end = j + 1 < batch.first.size() ? batch.first[j + 1] : batch.blocks;
      const int64_t stop = std::min(end, tensor_end);
      blocks(plan, batch.data.data() + j * batch.slots, batch.numel[j], b - batch.first[j],
             stop - batch.first[j]);
      b = stop;
      ++j;
    }
  });
}

template <typename T>
void add_to_batch(Batch<T>& batch, const std::vector<at::Tensor>& ops) {
  batch.slots = ops.size();
  for (const auto& t : ops) batch.data.push_back(t.data_ptr<T>());
  const int64_t numel = ops[0].numel();
  batch.first.push_back(batch.blocks);
  batch.numel.push_back(numel);
  batch.blocks += (numel + kBlock - 1) / kBlock;
}

// Whether two operands share some memory without being the same memory (views with offsets),
// which the in-place loops of the fast path cannot handle.
bool partly_overlapping(const std::vector<at::Tensor>& ops) {
  for (size_t x = 0; x < ops.size(); ++x) {
    for (size_t y = x + 1; y < ops.size(); ++y) {
      const auto* a = static_cast<const char*>(ops[x].data_ptr());
      const auto* b = static_cast<const char*>(ops[y].data_ptr());
      const int64_t na = ops[x].numel() * ops[x].element_size();
      const int64_t nb = ops[y].numel() * ops[y].element_size();
      if (a == b && na == nb) continue;
      if (a < b + nb && b < a + na) return true;
    }
  }
  return false;
}

// The same program as whole-tensor ATen ops (CUDA, half precision, strided tensors). A
// register loaded from an operand the program later overwrites is copied first, so that it
// keeps the old values as it does element by element.
void run_aten(const Instr* prog, int64_t nprog, const std::vector<at::Tensor>& ops) {
  std::vector<bool> stored(ops.size(), false);
  for (int64_t i = 0; i < nprog; ++i)
    if (prog[i].op == STORE) stored[prog[i].a] = true;
  const auto opts = ops[0].options().dtype(
      ops[0].scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  std::vector<at::Tensor> r(kRegs);
  for (int64_t i = 0; i < nprog; ++i) {
    const Instr& in = prog[i];
    switch (in.op) {
      case LOAD:
        r[in.dst] = stored[in.a] ? ops[in.a].clone() : ops[in.a];
        break;
      case STORE:
        ops[in.a].copy_(r[in.b]);
        break;
      case CONST:
        r[in.dst] = at::scalar_tensor(in.imm, opts);
        break;
      case ADD: r[in.dst] = at::add(r[in.a], r[in.b]); break;
      case SUB: r[in.dst] = at::sub(r[in.a], r[in.b]); break;
      case MUL: r[in.dst] = at::mul(r[in.a], r[in.b]); break;
      case DIV: r[in.dst] = at::div(r[in.a], r[in.b]); break;
      case MULADD: r[in.dst] = at::add(at::mul(r[in.a], r[in.b]), r[in.c]); break;
      case NEG: r[in.dst] = at::neg(r[in.a]); break;
      case ABS: r[in.dst] = at::abs(r[in.a]); break;
      case SQRT: r[in.dst] = at::sqrt(r[in.a]); break;
      case MAX: r[in.dst] = at::maximum(r[in.a], r[in.b]); break;
      case MIN: r[in.dst] = at::minimum(r[in.a], r[in.b]); break;
      case SIGN: r[in.dst] = at::sgn(r[in.a]); break;
    }
  }
}

}  // namespace

extern "C" {

// Runs `prog` over `n` tensor indices; `operands` holds `nslots * n` tensors, slot-major.
// The caller has checked the program (registers written before read, indices in range).
char* weft_run_program(const Instr* prog, int64_t nprog, at::Tensor** operands, int64_t nslots,
                       int64_t n) {
  try {
    at::NoGradGuard no_grad;
    const Plan cpu_plan = plan(prog, nprog);
    Batch<float> f32;
    Batch<double> f64;
    for (int64_t j = 0; j < n; ++j) {
      std::vector<at::Tensor> ops;
      ops.reserve(nslots);
      for (int64_t s = 0; s < nslots; ++s) ops.push_back(*operands[s * n + j]);
      const auto& first = ops[0];
      bool fast = first.device().is_cpu() &&
                  (first.scalar_type() == at::kFloat || first.scalar_type() == at::kDouble);
      for (const auto& t : ops) {
        if (!t.sizes().equals(first.sizes()))
          return message("tensor " + std::to_string(j) + " has shape " +
                         c10::str(t.sizes()) + " in one operand and " +
                         c10::str(first.sizes()) + " in another");
        if (t.device() != first.device())
          return message("tensor " + std::to_string(j) + " lives on two devices");
        fast = fast && t.scalar_type() == first.scalar_type() && t.is_contiguous();
      }
      fast = fast && !partly_overlapping(ops);
      if (fast && first.scalar_type() == at::kFloat) {
        add_to_batch(f32, ops);
      } else if (fast) {
        add_to_batch(f64, ops);
      } else {
        run_aten(prog, nprog, ops);
      }
    }
    // All fast tensors in one parallel pass: many small parameters share the threads.
    if (f32.blocks > 0) run_cpu(cpu_plan, f32);
    if (f64.blocks > 0) run_cpu(cpu_plan, f64);
    return nullptr;
  } catch (const std::exception& e) {
    return message(e.what());
  }
}

}  // extern "C"
