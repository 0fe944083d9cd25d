/** The part of autocannon 8's API the API benchmark uses (the package ships no types). */
declare module 'autocannon' {
  export interface Histogram {
    readonly average: number;
    readonly mean: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  }
  export interface Result {
    readonly requests: Histogram & { readonly total: number };
    readonly latency: Histogram;
    readonly throughput: Histogram;
    readonly errors: number;
    readonly timeouts: number;
    readonly non2xx: number;
    readonly duration: number;
    readonly '2xx': number;
  }
  export interface Options {
    readonly url: string;
    readonly connections?: number;
    readonly duration?: number;
    readonly workers?: number;
    readonly headers?: Record<string, string>;
    readonly tlsOptions?: Record<string, unknown>;
    readonly timeout?: number;
  }
  export function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
