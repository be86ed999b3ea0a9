/**
 * The node's REST API (`/v1`, same origin): the `{ success, data | error, code }` envelope unwrapped,
 * errors as `ApiError`, and one token refresh when the node refuses an access token.
 */

/** What the node answered with instead of success. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Worth retrying later: the node (or a node it asked) was unreachable or overloaded. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** A login's tokens, as `AuthResponse` and `TokenPair` carry them. */
export interface Tokens {
  readonly sessionId: string;
  readonly accessToken: string;
  readonly refreshToken: string;
}

type Query = Record<string, string | number | undefined>;

export class Api {
  /** Told of every new token pair, so it outlives a reload. */
  onTokens: (tokens: Tokens) => Promise<void> = async () => {};
  /** Told when the login is no longer accepted. */
  onSignedOut: () => void = () => {};

  constructor(public tokens: Tokens | undefined = undefined) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.call("GET", path, undefined, query);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call("POST", path, body ?? {});
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call("PUT", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call("DELETE", path);
  }

  /** Posts raw bytes (a file's ciphertext) as `application/octet-stream`. */
  upload<T>(path: string, bytes: Uint8Array, query: Query): Promise<T> {
    return this.call("POST", path, new Blob([bytes as BlobPart], { type: "application/octet-stream" }), query);
  }

  /** The raw bytes of a download. */
  download(path: string): Promise<Uint8Array> {
    return this.call("GET", path, undefined, undefined, true);
  }

  async call<T>(method: string, path: string, body?: unknown, query?: Query, raw = false): Promise<T> {
    const used = this.tokens;
    try {
      return await this.#send<T>(method, path, body, query, true, raw);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || used === undefined) throw error;
      if (this.tokens === used && !(await this.#refresh(used))) {
        this.onSignedOut();
        throw error;
      }
      return this.#send<T>(method, path, body, query, true, raw);
    }
  }

  async #refresh(used: Tokens): Promise<boolean> {
    try {
      const pair = await this.#send<{ access_token: string; refresh_token: string }>(
        "POST",
        "/auth/refresh",
        { session_id: used.sessionId, refresh_token: used.refreshToken },
        undefined,
        false,
      );
      this.tokens = { sessionId: used.sessionId, accessToken: pair.access_token, refreshToken: pair.refresh_token };
      await this.onTokens(this.tokens);
      return true;
    } catch {
      return false;
    }
  }

  async #send<T>(
    method: string,
    path: string,
    body: unknown,
    query: Query | undefined,
    auth = true,
    raw = false,
  ): Promise<T> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(name, String(value));
    const url = `/v1${path}${params.size > 0 ? `?${params}` : ""}`;
    const headers: Record<string, string> = { Accept: "application/json" };
    const blob = body instanceof Blob;
    if (body !== undefined) headers["Content-Type"] = blob ? "application/octet-stream" : "application/json";
    if (raw) headers.Accept = "application/octet-stream";
    if (auth && this.tokens !== undefined) headers.Authorization = `Bearer ${this.tokens.accessToken}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : blob ? body : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError(0, "UNREACHABLE", `the node cannot be reached (${String(error)})`);
    }
    if (raw && response.ok) return new Uint8Array(await response.arrayBuffer()) as T;
    let envelope: { success?: boolean; data?: unknown; error?: string; code?: string } = {};
    try {
      envelope = await response.json();
    } catch {
      // Not JSON: the status speaks for itself.
    }
    if (!response.ok || envelope.success === false) {
      throw new ApiError(response.status, envelope.code ?? "HTTP_ERROR", envelope.error ?? response.statusText);
    }
    return envelope.data as T;
  }
}

// ---- the shapes this client reads (`protocol/src/api/`) -------------------------------------------

export interface AuthResponse {
  user_id: string;
  device_id: string;
  session_id: string;
  access_token: string;
  refresh_token: string;
}

export interface Me {
  id: string;
  username: string;
  display_name: string;
}

export interface Conversation {
  id: string;
  type: "DM" | "GROUP" | "CHANNEL";
  subject: string | null;
  participant_count: number;
  last_sequence: number;
  last_message_at: string | null;
}

export interface ConversationPage {
  conversations: Conversation[];
  total: number;
}

export interface Participant {
  user_id: string;
  role?: string;
  username: string | null;
  display_name: string | null;
}

export interface PublicDeviceList {
  user_id: string;
  devices: { id: string; has_active_keys: boolean }[];
}

export interface UserProfile {
  id: string;
  username: string;
  display_name: string;
  is_online: boolean;
  last_seen: string | null;
}

export interface FileInfo {
  id: string;
  file_name: string;
  size: number;
  sha256: string;
}

export interface IdentityKey {
  user_id: string;
  device_id: string;
  public_key: string;
  is_active: boolean;
}

/** A message as this device sees it over REST (`Message`). */
export interface ApiMessage {
  id: string;
  conversation_id: string;
  sender_id: string;
  sender_device_id: string;
  client_message_id: string;
  sequence_number: number;
  message_type: string;
  is_deleted: boolean;
  ciphertext: string | null;
  header: string | null;
  encrypted: boolean;
  body: string | null;
  created_at: string;
  is_edited?: boolean;
  reply_to?: string | null;
  reactions?: { emoji: string; count: number; user_ids: string[] }[];
}

export interface MessagePage {
  messages: ApiMessage[];
  has_more: boolean;
}
