/**
 * Views of `size` elements cut from slabs of `perSlab` of them: a small typed array per flow costs an off-heap
 * allocation each, and their sum drives V8 into extra garbage collections. A slab lives until the last flow cut
 * from it is written.
 */
export function slabAllocator<T extends Float64Array | Int32Array | Uint16Array>(make: (n: number) => T, size: number, perSlab: number): () => T {
  let slab = make(0);
  let at = 0;
  return () => {
    if (at + size > slab.length) {
      slab = make(size * perSlab);
      at = 0;
    }
    at += size;
    return slab.subarray(at - size, at) as T;
  };
}
