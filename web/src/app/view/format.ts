/** Small formatting helpers the screens share. */

import { ApiError } from "../api.js";

export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message || `the node answered ${error.status}`;
  return error instanceof Error ? error.message : String(error);
}

export function time(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The start of a text, for quotes and banners. */
export function snippet(text: string | undefined, length = 80): string {
  if (text === undefined) return "…";
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
