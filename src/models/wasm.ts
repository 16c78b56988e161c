/**
 * The little of the WebAssembly JS API the SIMD kernels use (lib "dom" is not in this project's tsconfig, and
 * @types/node 20 does not declare it).
 */
export interface WasmModule {
  readonly kind?: 'wasm-module';
}

export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (m: WasmModule, imports: object) => { exports: object };
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
}

export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
