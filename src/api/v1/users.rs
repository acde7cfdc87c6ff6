//! `/v1/users`: a tenant's console users (admin scope).

use std::sync::Arc;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    ApiResponse, Object, OpenApi,
};

use crate::{
    api::{
        error::ApiResult,
        schema::examples,
        security::Credential,
        types::{Data, ListPage},
        Tag,
    },
    auth::{
        users::{Role, User, UserService, UserUpdate},
        Scope,
    },
    ids::UserId,
    pagination::PageRequest,
    time::rfc3339,
};

/// A console user: never the password.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct UserOut {
    id: String,
    email: String,
    role: Role,
    disabled: bool,
    created_at: String,
    updated_at: String,
}

impl From<User> for UserOut {
    fn from(user: User) -> Self {
        UserOut {
            id: user.id,
            email: user.email,
            role: user.role,
            disabled: user.disabled_at.is_some(),
            created_at: rfc3339(user.created_at),
            updated_at: rfc3339(user.updated_at),
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct CreateUserIn {
    email: String,
    role: Role,
    /// At least 12 characters; stored only as an argon2id hash.
    password: String,
}

/// `None` leaves a field as it is. Either change signs the user out everywhere.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct UpdateUserIn {
    role: Option<Role>,
    disabled: Option<bool>,
}

examples! {
    UserOut => {
        "id": "usr_01HN4WZ3J5K6M7N8P9Q0R1S2T3",
        "email": "alice@example.com",
        "role": "approver",
        "disabled": false,
        "createdAt": "2024-01-15T09:00:00.000Z",
        "updatedAt": "2024-01-15T09:00:00.000Z"
    }
    CreateUserIn => {
        "email": "alice@example.com",
        "role": "approver",
        "password": "correct horse battery staple"
    }
    /// Make a person a viewer: their sessions end.
    UpdateUserIn => { "role": "viewer" }
}

#[derive(ApiResponse)]
pub enum CreateUserResponse {
    /// The user was created.
    #[oai(status = 201)]
    Created(Json<Data<UserOut>>),
}

pub struct UsersApi {
    users: Arc<UserService>,
}

impl UsersApi {
    pub fn new(users: Arc<UserService>) -> Self {
        Self { users }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "Tag::Users")]
impl UsersApi {
    /// The tenant's console users, oldest first.
    #[oai(path = "/users", method = "get", operation_id = "list_users")]
    async fn list(
        &self,
        auth: Credential,
        page: Query<Option<i64>>,
        #[oai(name = "pageSize")] page_size: Query<Option<i64>>,
    ) -> ApiResult<Json<Data<ListPage<UserOut>>>> {
        let caller = auth.require(Scope::Admin)?;
        let request = PageRequest::parse(page.0, page_size.0)?;
        let users = self.users.list(&caller.tenant_id, request).await?;
        Ok(Json(Data::new(ListPage::from_page(users, UserOut::from))))
    }

    /// Create a console user with a password.
    #[oai(path = "/users", method = "post", operation_id = "create_user")]
    async fn create(
        &self,
        auth: Credential,
        body: Json<CreateUserIn>,
    ) -> ApiResult<CreateUserResponse> {
        let caller = auth.require(Scope::Admin)?;
        let body = body.0;
        let user = self
            .users
            .create(
                &caller.tenant_id,
                &caller.key_id,
                &body.email,
                body.role,
                body.password,
            )
            .await?;
        Ok(CreateUserResponse::Created(Json(Data::new(user.into()))))
    }

    /// One console user.
    #[oai(path = "/users/:id", method = "get", operation_id = "get_user")]
    async fn get(&self, auth: Credential, id: Path<UserId>) -> ApiResult<Json<Data<UserOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let user = self.users.get(&caller.tenant_id, &id).await?;
        Ok(Json(Data::new(user.into())))
    }

    /// Change a user's role, or disable or re-enable them; either change ends their sessions.
    #[oai(path = "/users/:id", method = "patch", operation_id = "update_user")]
    async fn update(
        &self,
        auth: Credential,
        id: Path<UserId>,
        body: Json<UpdateUserIn>,
    ) -> ApiResult<Json<Data<UserOut>>> {
        let caller = auth.require(Scope::Admin)?;
        let update = UserUpdate {
            role: body.role,
            disabled: body.disabled,
        };
        let user = self
            .users
            .update(&caller.tenant_id, &caller.key_id, &id, update)
            .await?;
        Ok(Json(Data::new(user.into())))
    }
}
