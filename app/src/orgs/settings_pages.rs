//! Settings › Roles and Settings › API tokens.

use super::permissions::Permission;
use super::{
    ConsoleContext, CreateApiToken, CreateRole, DeleteRole, RevokeApiToken, UpdateRole,
    list_api_tokens, list_roles, new_api_token, use_org_param,
};
use crate::ui::{
    Confirm, CopyField, EmptyState, ErrorPanel, Field, FormError, SubmitButton, format_time,
};
use leptos::prelude::*;
use leptos_meta::Title;

fn can(p: Permission) -> bool {
    use_context::<ConsoleContext>().is_some_and(|c| c.permissions.contains(&p))
}

#[component]
pub fn RolesPage() -> impl IntoView {
    let org = use_org_param();
    let create = ServerAction::<CreateRole>::new();
    let delete = ServerAction::<DeleteRole>::new();
    let update = ServerAction::<UpdateRole>::new();
    let roles = Resource::new(
        move || {
            (
                org.get(),
                create.version().get() + delete.version().get() + update.version().get(),
            )
        },
        |(org, _)| list_roles(org),
    );
    let writer = can(Permission::RolesWrite);
    let create_error = Signal::derive(move || create.value().get().and_then(Result::err));
    let delete_error = Signal::derive(move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| update.value().get().and_then(Result::err))
    });
    view! {
        <Title text="Roles"/>
        <header class="page-header">
            <h1>"Settings › Roles"</h1>
            <p class="muted">"What each role may do. Built-in roles are fixed; custom roles can be edited while nobody holds them."</p>
        </header>
        <FormError error=delete_error/>
        <Suspense fallback=|| view! { <p class="loading">"Loading roles…"</p> }>
            {move || Suspend::new(async move {
                match roles.await {
                    Ok(list) => view! {
                        <div class="table-wrap" tabindex="0" role="region" aria-label="Roles">
                            <table class="table">
                                <caption class="sr-only">"Roles"</caption>
                                <thead><tr>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Permissions"</th>
                                    <th scope="col">"Members"</th>
                                    {writer.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|r| {
                                        let perms = if r.permissions.is_empty() {
                                            "none".to_owned()
                                        } else {
                                            r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                                        };
                                        view! {
                                            <tr>
                                                <td>
                                                    <strong>{r.name.clone()}</strong>
                                                    {r.builtin.then(|| view! { " " <span class="badge">"built-in"</span> })}
                                                    <div class="muted small">{r.description.clone()}</div>
                                                </td>
                                                <td class="small">{perms}</td>
                                                <td>{r.members}</td>
                                                {writer.then(|| view! {
                                                    <td>
                                                        {(!r.builtin).then(|| view! {
                                                            <RoleEditor org=org.get_untracked() name=r.name.clone() granted=r.permissions.clone() update/>
                                                            <Confirm label="Delete…" question=format!("Delete the role “{}”?", r.name)>
                                                                <ActionForm action=delete>
                                                                    <input type="hidden" name="org" value=org.get_untracked()/>
                                                                    <input type="hidden" name="name" value=r.name.clone()/>
                                                                    <button type="submit" class="button small danger">"Yes, delete"</button>
                                                                </ActionForm>
                                                            </Confirm>
                                                        })}
                                                    </td>
                                                })}
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel title="Cannot list roles" message=e.message/> }.into_any(),
                }
            })}
        </Suspense>
        <Show when=move || writer>
            <section class="panel">
                <h2>"New custom role"</h2>
                <ActionForm action=create>
                    <input type="hidden" name="org" value=move || org.get()/>
                    <Field label="Name" name="name" hint="Lowercase letters, digits, - and _." required=true
                        error=Signal::derive(move || create_error.get().and_then(|e| e.message_for("name")))/>
                    <Field label="Description" name="description"
                        error=Signal::derive(move || create_error.get().and_then(|e| e.message_for("description")))/>
                    <PermissionChoices prefix="perm" granted=Vec::new()/>
                    <FormError error=create_error fields=&["name", "description"]/>
                    <SubmitButton label="Create role" pending_label="Creating…"/>
                </ActionForm>
            </section>
        </Show>
    }
}

/// The permission checkboxes of a role form, checked where `granted`.
#[component]
fn PermissionChoices(#[prop(into)] prefix: String, granted: Vec<Permission>) -> impl IntoView {
    view! {
        <fieldset class="checkboxes">
            <legend>"Permissions"</legend>
            {Permission::ALL
                .iter()
                .map(|p| {
                    let id = format!("{prefix}-{}", p.as_str().replace(':', "-"));
                    let label_for = id.clone();
                    let checked = granted.contains(p);
                    view! {
                        <label for=label_for class="checkbox">
                            <input id=id type="checkbox" name="permissions[]" value=p.as_str() checked=checked/>
                            <code>{p.as_str()}</code>
                            <span class="muted small">{format!(" — {}", p.describe())}</span>
                        </label>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}

/// Edits a custom role's permissions, behind a disclosure.
#[component]
fn RoleEditor(
    org: String,
    name: String,
    granted: Vec<Permission>,
    update: ServerAction<UpdateRole>,
) -> impl IntoView {
    let prefix = format!("edit-{name}");
    view! {
        <details class="confirm">
            <summary class="button small">"Edit…"</summary>
            <div class="confirm-body editor">
                <ActionForm action=update>
                    <input type="hidden" name="org" value=org/>
                    <input type="hidden" name="name" value=name/>
                    <PermissionChoices prefix granted/>
                    <button type="submit" class="button small primary">"Save permissions"</button>
                </ActionForm>
            </div>
        </details>
    }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let org = use_org_param();
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let tokens = Resource::new(
        move || (org.get(), create.version().get() + revoke.version().get()),
        |(org, _)| list_api_tokens(org),
    );
    let roles = Resource::new(move || org.get(), list_roles);
    // The token just created, with its secret, shown once.
    let created = Resource::new(move || org.get(), new_api_token);
    let create_error = Signal::derive(move || create.value().get().and_then(Result::err));
    view! {
        <Title text="API tokens"/>
        <header class="page-header">
            <h1>"Settings › API tokens"</h1>
            <p class="muted">"Tokens for the REST API, each acting with one role in this organization. Send them as "
                <code>"Authorization: Bearer <token>"</code>"."</p>
        </header>
        // The form waits for the roles it offers, in one boundary.
        <Suspense>
            {move || Suspend::new(async move {
                let role_names: Vec<String> = roles.await.unwrap_or_default().into_iter().map(|r| r.name).collect();
                let created = created.await.ok().flatten();
                view! {
        <section class="panel">
            <h2>"New token"</h2>
            <ActionForm action=create attr:class="inline-form">
                <input type="hidden" name="org" value=move || org.get()/>
                <Field label="Name" name="name" required=true
                    error=Signal::derive(move || create_error.get().and_then(|e| e.message_for("name")))/>
                <div class="field">
                    <label for="token-role">"Role"</label>
                    <select id="token-role" name="role">
                        {role_names.into_iter().map(|name| {
                            let selected = name == "viewer";
                            let value = name.clone();
                            view! { <option value=value selected=selected>{name}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <SubmitButton label="Create token" pending_label="Creating…"/>
            </ActionForm>
            <FormError error=create_error fields=&["name"]/>
            {created.and_then(|t| t.secret.map(|secret| view! {
                <div class="notice" role="status">
                    <p>"Copy the token now: it is not shown again."</p>
                    <CopyField label=format!("Token “{}”", t.name) value=secret id="new-token"/>
                </div>
            }))}
        </section>
                }
            })}
        </Suspense>
        <FormError error=Signal::derive(move || revoke.value().get().and_then(Result::err))/>
        <Suspense fallback=|| view! { <p class="loading">"Loading tokens…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No API tokens"><p>"Create one to automate this organization."</p></EmptyState>
                    }.into_any(),
                    Ok(list) => view! {
                        <div class="table-wrap" tabindex="0" role="region" aria-label="API tokens">
                            <table class="table">
                                <caption class="sr-only">"API tokens"</caption>
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Role"</th>
                                    <th scope="col">"Created"</th><th scope="col">"Last used"</th>
                                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| view! {
                                        <tr>
                                            <td>{t.name.clone()}</td>
                                            <td><span class="badge">{t.role.clone()}</span></td>
                                            <td class="nowrap">{format_time(t.created_at)}</td>
                                            <td class="nowrap">{t.last_used_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
                                            <td>
                                                <Confirm label="Revoke…" question=format!("Revoke “{}”? Scripts using it stop working at once.", t.name)>
                                                    <ActionForm action=revoke>
                                                        <input type="hidden" name="org" value=org.get_untracked()/>
                                                        <input type="hidden" name="id" value=t.id.clone()/>
                                                        <button type="submit" class="button small danger">"Yes, revoke"</button>
                                                    </ActionForm>
                                                </Confirm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <ErrorPanel title="Cannot list API tokens" message=e.message/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
