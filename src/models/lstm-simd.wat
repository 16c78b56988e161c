;; The two matrix products of an LSTM step, in float32 with 128-bit SIMD (4 lanes). lstm-simd.ts runs the rest
;; of the step (activations, cell update) and keeps the float64 kernel as the reference these are checked against.
;;
;; A cell's weights are stored input-major: row q (0 <= q < R, R = D + H; inputs first, then the recurrent state)
;; holds the G = 4H gate weights of input q, so a product walks contiguous memory 4 gates at a time with one
;; broadcast input; the G biases follow the R rows. All pointers are byte offsets into the imported memory;
;; G must be a multiple of 16 and H of 4.
(module
  (import "env" "memory" (memory 1))

  ;; z[0..G) = bias + sum_q v[q] * W[q, 0..G)
  (func (export "gates") (param $w i32) (param $v i32) (param $z i32) (param $R i32) (param $G i32)
    (local $j i32) (local $q i32) (local $row i32) (local $s v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $bias i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $G) (i32.const 2)))
    (local.set $bias (i32.add (local.get $w) (i32.mul (local.get $R) (local.get $rowBytes))))
    (local.set $j (i32.const 0))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (local.set $a0 (v128.load offset=0 (i32.add (local.get $bias) (local.get $j))))
        (local.set $a1 (v128.load offset=16 (i32.add (local.get $bias) (local.get $j))))
        (local.set $a2 (v128.load offset=32 (i32.add (local.get $bias) (local.get $j))))
        (local.set $a3 (v128.load offset=48 (i32.add (local.get $bias) (local.get $j))))
        (local.set $row (i32.add (local.get $w) (local.get $j)))
        (local.set $q (i32.const 0))
        (block $qdone
          (loop $qs
            (br_if $qdone (i32.ge_u (local.get $q) (local.get $R)))
            (local.set $s (f32x4.splat (f32.load (i32.add (local.get $v) (i32.shl (local.get $q) (i32.const 2))))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load offset=0 (local.get $row)) (local.get $s))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $row)) (local.get $s))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (v128.load offset=32 (local.get $row)) (local.get $s))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (v128.load offset=48 (local.get $row)) (local.get $s))))
            (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $qs)))
        (v128.store offset=0 (i32.add (local.get $z) (local.get $j)) (local.get $a0))
        (v128.store offset=16 (i32.add (local.get $z) (local.get $j)) (local.get $a1))
        (v128.store offset=32 (i32.add (local.get $z) (local.get $j)) (local.get $a2))
        (v128.store offset=48 (i32.add (local.get $z) (local.get $j)) (local.get $a3))
        (local.set $j (i32.add (local.get $j) (i32.const 64)))
        (br $blocks))))

  ;; dW[q, :] += v[q] * dz;  dbias += dz;  dh[k] = sum_j W[D + k, j] * dz[j] for 0 <= k < R - D
  (func (export "backStep") (param $w i32) (param $dw i32) (param $v i32) (param $dz i32) (param $dh i32) (param $D i32) (param $R i32) (param $G i32)
    (local $q i32) (local $j i32) (local $row i32) (local $drow i32) (local $s v128) (local $acc v128)
    (local $rowBytes i32) (local $k i32)
    (local.set $rowBytes (i32.shl (local.get $G) (i32.const 2)))
    ;; outer product into dW, and dbias (the row after the R rows) with v = 1
    (local.set $q (i32.const 0))
    (block $qdone
      (loop $qs
        (br_if $qdone (i32.gt_u (local.get $q) (local.get $R)))
        (if (i32.eq (local.get $q) (local.get $R))
          (then (local.set $s (f32x4.splat (f32.const 1))))
          (else (local.set $s (f32x4.splat (f32.load (i32.add (local.get $v) (i32.shl (local.get $q) (i32.const 2))))))))
        (local.set $drow (i32.add (local.get $dw) (i32.mul (local.get $q) (local.get $rowBytes))))
        (local.set $j (i32.const 0))
        (block $jdone
          (loop $js
            (br_if $jdone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $drow) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $drow) (local.get $j)))
                         (f32x4.mul (v128.load (i32.add (local.get $dz) (local.get $j))) (local.get $s))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $js)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $qs)))
    ;; dh = W[D.., :] dz
    (local.set $k (local.get $D))
    (block $kdone
      (loop $ks
        (br_if $kdone (i32.ge_u (local.get $k) (local.get $R)))
        (local.set $row (i32.add (local.get $w) (i32.mul (local.get $k) (local.get $rowBytes))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $jdone2
          (loop $js2
            (br_if $jdone2 (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $j))) (v128.load (i32.add (local.get $dz) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $js2)))
        (f32.store (i32.add (local.get $dh) (i32.shl (i32.sub (local.get $k) (local.get $D)) (i32.const 2)))
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                   (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $ks))))
;; exp(x) on 4 lanes, float32: x = n + f (n an integer, |f| <= 1/2, in base 2), 2^f by its Taylor polynomial of
;; degree 6 (relative error below 1.3e-7, about float32's rounding), 2^n built in the exponent bits. x is clamped
;; to +-87 so 2^n stays a normal float.
(func $exp4 (param $x v128) (result v128)
  (local $t v128) (local $n v128) (local $f v128) (local $p v128)
  (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87 -87 -87 -87)) (v128.const f32x4 87 87 87 87)))
  (local.set $t (f32x4.mul (local.get $x) (v128.const f32x4 1.4426950408889634 1.4426950408889634 1.4426950408889634 1.4426950408889634)))
  (local.set $n (f32x4.nearest (local.get $t)))
  (local.set $f (f32x4.sub (local.get $t) (local.get $n)))
  (local.set $p (v128.const f32x4 1.5403530393381606e-4 1.5403530393381606e-4 1.5403530393381606e-4 1.5403530393381606e-4))
  (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (v128.const f32x4 1.3333558146428443e-3 1.3333558146428443e-3 1.3333558146428443e-3 1.3333558146428443e-3)))
  (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (v128.const f32x4 9.618129107628477e-3 9.618129107628477e-3 9.618129107628477e-3 9.618129107628477e-3)))
  (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (v128.const f32x4 5.550410866482158e-2 5.550410866482158e-2 5.550410866482158e-2 5.550410866482158e-2)))
  (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (v128.const f32x4 0.2402265069591007 0.2402265069591007 0.2402265069591007 0.2402265069591007)))
  (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (v128.const f32x4 0.6931471805599453 0.6931471805599453 0.6931471805599453 0.6931471805599453)))
  (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $f)) (v128.const f32x4 1 1 1 1)))
  (f32x4.mul (local.get $p)
    (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))

;; In place over the G gate inputs at z: sigmoid for i, f and o, tanh for g (gates 2H..3H), as 1 / (1 + e^-x) and
;; 1 - 2 / (1 + e^2x).
(func (export "activate") (param $z i32) (param $G i32) (param $H i32)
  (local $j i32) (local $end i32) (local $g0 i32) (local $g1 i32) (local $x v128)
  (local.set $end (i32.shl (local.get $G) (i32.const 2)))
  (local.set $g0 (i32.shl (local.get $H) (i32.const 3)))
  (local.set $g1 (i32.mul (local.get $H) (i32.const 12)))
  (local.set $j (i32.const 0))
  (block $done
    (loop $each
      (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
      (local.set $x (v128.load (i32.add (local.get $z) (local.get $j))))
      (if (i32.and (i32.ge_u (local.get $j) (local.get $g0)) (i32.lt_u (local.get $j) (local.get $g1)))
        (then
          (v128.store (i32.add (local.get $z) (local.get $j))
            (f32x4.sub (v128.const f32x4 1 1 1 1)
              (f32x4.div (v128.const f32x4 2 2 2 2)
                (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.add (local.get $x) (local.get $x))))))))
        (else
          (v128.store (i32.add (local.get $z) (local.get $j))
            (f32x4.div (v128.const f32x4 1 1 1 1)
              (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $x))))))))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $each))))
)
