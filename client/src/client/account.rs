//! Signing in: creating an account, logging in to one as this profile's device, or reopening a
//! profile that is signed in already.

use std::fmt;
use std::path::Path;

use protocol::DeviceId;
use protocol::api::{AuthResponse, LoginRequest, Me, RegisterRequest};
use protocol::crypto::IdentityKeyPair;
use reqwest::Method;

use super::Client;
use crate::error::{Error, Result};
use crate::http::{Http, Server};
use crate::profile::{ACCOUNT, AccountFile, IDENTITY, Profile, Tokens};

/// What `register` needs.
#[derive(Clone)]
pub struct Registration {
    /// Unique on the node; lower-case letters, digits, `_`, `.` and `-`.
    pub username: String,
    /// Unique on the node.
    pub email: String,
    /// At least 8 characters.
    pub password: String,
    /// Shown to others; the node defaults it to the username.
    pub display_name: Option<String>,
    /// A label for this device.
    pub device_name: Option<String>,
    /// The invitation a node that registers by token only asks for.
    pub registration_token: Option<String>,
}

impl Registration {
    /// A registration with the required fields.
    pub fn new(username: impl Into<String>, email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            email: email.into(),
            password: password.into(),
            display_name: None,
            device_name: None,
            registration_token: None,
        }
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("username", &self.username)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates an account on the node at `server` with a new device kept in the profile directory
    /// `profile` (created if missing), then publishes the device's identity key, signed prekey and
    /// one-time prekeys. Fails if the profile already holds an account.
    pub async fn register(
        profile: impl AsRef<Path>,
        server: impl Into<Server>,
        registration: Registration,
    ) -> Result<Self> {
        let profile = Profile::open(profile)?;
        let http = Http::new(&server.into())?;
        let account = prepare_account(&profile, &http)?;
        if let Some(user) = account.user_id {
            return Err(Error::profile(format!(
                "{} already holds account {user}; log in, or use another profile",
                profile.dir().display()
            )));
        }
        let identity = load_or_create_identity(&profile)?;
        let request = RegisterRequest {
            email: registration.email,
            username: registration.username,
            password: registration.password,
            device_id: account.device_id,
            phone_number: None,
            display_name: registration.display_name,
            device_name: registration.device_name,
            device_type: None,
            key_backup: None,
            registration_token: registration.registration_token,
        };
        let auth: AuthResponse = http
            .call(Method::POST, "/auth/register", &[], Some(&request), None)
            .await?;
        Self::signed_in(profile, http, account, identity, auth).await
    }

    /// Logs in to an existing account (`identity` is its username, email or phone number) as the
    /// device of the profile directory `profile`: a new device when the profile is new, else the
    /// device the profile already is. Publishes the device's keys.
    pub async fn login(
        profile: impl AsRef<Path>,
        server: impl Into<Server>,
        identity: &str,
        password: &str,
    ) -> Result<Self> {
        let profile = Profile::open(profile)?;
        let http = Http::new(&server.into())?;
        let account = prepare_account(&profile, &http)?;
        let keys = load_or_create_identity(&profile)?;
        let request = LoginRequest {
            identity: identity.to_owned(),
            password: password.to_owned(),
            device_id: account.device_id,
            device_name: None,
            device_type: None,
        };
        let auth: AuthResponse = http
            .call(Method::POST, "/auth/login", &[], Some(&request), None)
            .await?;
        Self::signed_in(profile, http, account, keys, auth).await
    }

    async fn signed_in(
        profile: Profile,
        http: Http,
        mut account: AccountFile,
        identity: IdentityKeyPair,
        auth: AuthResponse,
    ) -> Result<Self> {
        if auth.device_id != account.device_id {
            return Err(Error::Protocol("the node signed in another device".into()));
        }
        if account.user_id.is_some_and(|user| user != auth.user_id) {
            return Err(Error::profile(format!(
                "{} belongs to another account; use another profile",
                profile.dir().display()
            )));
        }
        let tokens = Tokens {
            session_id: auth.session_id,
            access_token: auth.access_token.clone(),
            refresh_token: auth.refresh_token.clone(),
        };
        let me: Me = http
            .call(Method::GET, "/users/me", &[], None, Some(&tokens.access_token))
            .await?;
        account.user_id = Some(auth.user_id);
        account.username = Some(me.username.clone());
        account.tokens = Some(tokens.clone());
        profile.write_json(ACCOUNT, &account)?;
        let client = Self::assemble(
            profile,
            http,
            auth.user_id,
            me.username,
            account.device_id,
            identity,
            tokens,
        );
        client.publish_keys().await?;
        Ok(client)
    }

    /// Reopens a profile directory that holds a signed-in device. Makes no request: sessions, keys
    /// and history continue from the files.
    pub fn open(profile: impl AsRef<Path>) -> Result<Self> {
        if !profile.as_ref().join(ACCOUNT).is_file() {
            return Err(Error::profile(format!(
                "{} holds no account; register or log in first",
                profile.as_ref().display()
            )));
        }
        let profile = Profile::open(profile)?;
        let account: AccountFile = profile.read_json(ACCOUNT)?.ok_or_else(|| {
            Error::profile(format!(
                "{} holds no account; register or log in first",
                profile.dir().display()
            ))
        })?;
        let (Some(user_id), Some(username), Some(tokens)) =
            (account.user_id, account.username.clone(), account.tokens.clone())
        else {
            return Err(Error::profile(format!(
                "{} is not signed in; log in again",
                profile.dir().display()
            )));
        };
        let identity: IdentityKeyPair = profile
            .read_packed(IDENTITY)?
            .ok_or_else(|| Error::profile("the device's identity key is missing"))?;
        let mut server = Server::new(account.server.clone());
        if let Some(ca_file) = &account.ca_file {
            server = server.trusting(ca_file);
        }
        let http = Http::new(&server)?;
        Ok(Self::assemble(
            profile,
            http,
            user_id,
            username,
            account.device_id,
            identity,
            tokens,
        ))
    }
}

/// Loads the profile's account file, or starts one for a new device of `http`'s node.
fn prepare_account(profile: &Profile, http: &Http) -> Result<AccountFile> {
    match profile.read_json::<AccountFile>(ACCOUNT)? {
        Some(account) if account.server.trim_end_matches('/') != http.base() => Err(Error::profile(format!(
            "{} belongs to the node {}, not {}",
            profile.dir().display(),
            account.server,
            http.base()
        ))),
        // A CA file given now replaces the one kept: the node's certificate may have a new issuer.
        Some(mut account) => {
            if let Some(ca_file) = http
                .ca_file()
                .filter(|given| account.ca_file.as_deref() != Some(*given))
            {
                account.ca_file = Some(ca_file.to_owned());
                profile.write_json(ACCOUNT, &account)?;
            }
            Ok(account)
        }
        None => {
            let account = AccountFile {
                server: http.base().to_owned(),
                ca_file: http.ca_file().map(Path::to_owned),
                device_id: DeviceId::random(),
                user_id: None,
                username: None,
                tokens: None,
            };
            profile.write_json(ACCOUNT, &account)?;
            Ok(account)
        }
    }
}

fn load_or_create_identity(profile: &Profile) -> Result<IdentityKeyPair> {
    if let Some(identity) = profile.read_packed(IDENTITY)? {
        return Ok(identity);
    }
    let identity = IdentityKeyPair::generate();
    profile.write_packed(IDENTITY, &identity)?;
    Ok(identity)
}
