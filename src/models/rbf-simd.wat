;; Dot products for RBF kernel rows (rbf-kernel.ts), float64 with 128-bit SIMD (2 lanes), eight rows at a time.
;;
;; The rows a kernel row is taken against are stored as a panel: groups of 8 rows, each group dimension-major, so
;; dimension t of a group is 8 consecutive doubles (rows 0..7) at group + t * 64 bytes. One broadcast value of the
;; row x_i then multiplies four f64x2 loads: each lane keeps the running sum of one row, added in index order, so
;; every dot product is the plain sum x_i[0] * b[0] + x_i[1] * b[1] + ... that libsvm computes, to the bit.
;; All pointers are byte offsets into the imported memory.
(module
  (import "env" "memory" (memory 1))

  ;; out[8 * (g - g0) + r] = dot(x_i, row r of group g) for the groups g0 .. g1 - 1 of the panel at $panel, for
  ;; rows of $d dimensions; $xi points at the $d doubles of x_i.
  (func (export "dots8") (param $xi i32) (param $panel i32) (param $g0 i32) (param $g1 i32) (param $d i32) (param $out i32)
    (local $g i32) (local $p i32) (local $x i32) (local $end i32) (local $groupBytes i32) (local $v v128)
    (local $a v128) (local $b v128) (local $c v128) (local $e v128)
    (local.set $groupBytes (i32.shl (local.get $d) (i32.const 6)))
    (local.set $g (local.get $g0))
    (local.set $p (i32.add (local.get $panel) (i32.mul (local.get $g0) (local.get $groupBytes))))
    (block $done
      (loop $groups
        (br_if $done (i32.ge_u (local.get $g) (local.get $g1)))
        (local.set $a (v128.const f64x2 0 0))
        (local.set $b (v128.const f64x2 0 0))
        (local.set $c (v128.const f64x2 0 0))
        (local.set $e (v128.const f64x2 0 0))
        (local.set $x (local.get $xi))
        (local.set $end (i32.add (local.get $p) (local.get $groupBytes)))
        (block $tdone
          (loop $ts
            (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $v (v128.load64_splat (local.get $x)))
            (local.set $a (f64x2.add (local.get $a) (f64x2.mul (local.get $v) (v128.load offset=0 (local.get $p)))))
            (local.set $b (f64x2.add (local.get $b) (f64x2.mul (local.get $v) (v128.load offset=16 (local.get $p)))))
            (local.set $c (f64x2.add (local.get $c) (f64x2.mul (local.get $v) (v128.load offset=32 (local.get $p)))))
            (local.set $e (f64x2.add (local.get $e) (f64x2.mul (local.get $v) (v128.load offset=48 (local.get $p)))))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))
            (local.set $p (i32.add (local.get $p) (i32.const 64)))
            (br $ts)))
        (v128.store offset=0 (local.get $out) (local.get $a))
        (v128.store offset=16 (local.get $out) (local.get $b))
        (v128.store offset=32 (local.get $out) (local.get $c))
        (v128.store offset=48 (local.get $out) (local.get $e))
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $groups))))
)
