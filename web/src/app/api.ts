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

  async call<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const used = this.tokens;
    try {
      return await this.#send<T>(method, path, body, query);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || used === undefined) throw error;
      if (this.tokens === used && !(await this.#refresh(used))) {
        this.onSignedOut();
        throw error;
      }
      return this.#send<T>(method, path, body, query);
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

  async #send<T>(method: string, path: string, body: unknown, query: Query | undefined, auth = true): Promise<T> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(name, String(value));
    const url = `/v1${path}${params.size > 0 ? `?${params}` : ""}`;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.tokens !== undefined) headers.Authorization = `Bearer ${this.tokens.accessToken}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError(0, "UNREACHABLE", `the node cannot be reached (${String(error)})`);
    }
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
  username: string | null;
  display_name: string | null;
}

export interface PublicDeviceList {
  user_id: string;
  devices: { id: string; has_active_keys: boolean }[];
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
}

export interface MessagePage {
  messages: ApiMessage[];
  has_more: boolean;
}
