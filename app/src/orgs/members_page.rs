//! Members: search, paging, invitations, role changes, deactivation, removal.

use super::permissions::Permission;
use super::{
    ChangeMemberRole, ConsoleContext, InviteMember, Member, RemoveMember, ResendInvitation,
    RevokeInvitation, RoleInfo, SetMemberActive, list_invitations, list_members, list_roles,
    new_invitation, use_org_param,
};
use crate::error::AppError;
use crate::ui::{
    Confirm, CopyField, EmptyState, ErrorPanel, Field, FormError, SubmitButton, encode_query_value,
    format_time,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;

fn can(p: Permission) -> bool {
    use_context::<ConsoleContext>().is_some_and(|c| c.permissions.contains(&p))
}

/// The last error of any of the given actions.
fn last_error(values: Vec<Signal<Option<AppError>>>) -> Signal<Option<AppError>> {
    Signal::derive(move || values.iter().find_map(|v| v.get()))
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let org = use_org_param();
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").filter(|v| !v.is_empty()));
    let page = Memo::new(move |_| {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(1)
    });
    let writer = can(Permission::MembersWrite);

    let invite = ServerAction::<InviteMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let set_active = ServerAction::<SetMemberActive>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let resend = ServerAction::<ResendInvitation>::new();

    let members = Resource::new(
        move || {
            (
                org.get(),
                q.get(),
                page.get(),
                change.version().get()
                    + set_active.version().get()
                    + remove.version().get()
                    + invite.version().get(),
            )
        },
        |(org, q, page, _)| list_members(org, q, Some(page)),
    );
    let invitations = Resource::new(
        move || {
            (
                org.get(),
                invite.version().get() + revoke.version().get() + resend.version().get(),
            )
        },
        |(org, _)| list_invitations(org),
    );
    let roles = Resource::new(move || org.get(), list_roles);

    let row_error = last_error(vec![
        Signal::derive(move || change.value().get().and_then(Result::err)),
        Signal::derive(move || set_active.value().get().and_then(Result::err)),
        Signal::derive(move || remove.value().get().and_then(Result::err)),
    ]);
    let invite_error = Signal::derive(move || invite.value().get().and_then(Result::err));
    // The link of an invitation just made or re-sent, shown once.
    let new_link = Resource::new(move || org.get(), new_invitation);

    view! {
        <Title text="Members"/>
        <header class="page-header">
            <h1>"Members"</h1>
            <p class="muted">"Everyone who can sign in to this organization, and who is invited."</p>
        </header>

        // The invite panel waits for the roles it offers, in one boundary.
        <Suspense>
            {move || Suspend::new(async move {
                let role_names: Vec<String> = roles.await.unwrap_or_default().into_iter().map(|r| r.name).collect();
                let new_link = new_link.await.ok().flatten();
                writer.then(|| view! {
                    <section class="panel">
                        <h2>"Invite someone"</h2>
                        <ActionForm action=invite attr:class="inline-form">
                            <input type="hidden" name="org" value=move || org.get()/>
                            <Field
                                label="Email"
                                name="email"
                                input_type="email"
                                required=true
                                error=Signal::derive(move || invite_error.get().and_then(|e| e.message_for("email")))
                            />
                            <div class="field">
                                <label for="invite-role">"Role"</label>
                                <select id="invite-role" name="role">
                                    {role_names.into_iter().map(|name| {
                                        let selected = name == "member";
                                        let value = name.clone();
                                        view! { <option value=value selected=selected>{name}</option> }
                                    }).collect_view()}
                                </select>
                            </div>
                            <SubmitButton label="Invite" pending_label="Inviting…"/>
                        </ActionForm>
                        <FormError error=invite_error fields=&["email"]/>
                        {new_link.map(|inv| view! { <InvitationLink inv/> })}
                    </section>
                })
            })}
        </Suspense>

        <Form method="GET" action="" attr:class="search-form" attr:role="search">
            <label for="member-search" class="sr-only">"Search members"</label>
            <input id="member-search" type="search" name="q" placeholder="Search by name or email" value=move || q.get()/>
            <button type="submit" class="button">"Search"</button>
        </Form>

        <FormError error=row_error/>
        <Suspense fallback=|| view! { <p class="loading">"Loading members…"</p> }>
            {move || Suspend::new(async move {
                let roles_list = roles.await.unwrap_or_default();
                match members.await {
                    Ok(p) if p.members.is_empty() => view! {
                        <EmptyState title="No members match">
                            <p>"Try another search."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(p) => {
                        let pages = ((p.total + i64::from(p.per_page) - 1) / i64::from(p.per_page)).max(1) as u32;
                        let link = move |n: u32| {
                            let mut s = format!("?page={n}");
                            if let Some(q) = q.get_untracked() {
                                s.push_str(&format!("&q={}", encode_query_value(&q)));
                            }
                            s
                        };
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Members">
                                <table class="table">
                                    <caption class="sr-only">"Members of this organization"</caption>
                                    <thead><tr>
                                        <th scope="col">"Member"</th>
                                        <th scope="col">"Role"</th>
                                        <th scope="col">"Status"</th>
                                        <th scope="col">"Joined"</th>
                                        <th scope="col">"Last sign-in"</th>
                                        {writer.then(|| view! { <th scope="col">"Actions"</th> })}
                                    </tr></thead>
                                    <tbody>
                                        {p.members.into_iter().map(|m| view! {
                                            <MemberRow member=m org=org.get_untracked() writer roles=roles_list.clone() change set_active remove/>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <nav class="pager" aria-label="Pages">
                                <span class="muted">{format!("{} members · page {} of {}", p.total, p.page, pages)}</span>
                                {(p.page > 1).then(|| view! { <A href=link(p.page - 1)>"← Previous"</A> })}
                                {(p.page < pages).then(|| view! { <A href=link(p.page + 1)>"Next →"</A> })}
                            </nav>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorPanel title="Cannot list members" message=e.message/> }.into_any(),
                }
            })}
        </Suspense>

        <section class="panel">
            <h2>"Pending invitations"</h2>
            <FormError error=Signal::derive(move || {
                revoke.value().get().and_then(Result::err).or_else(|| resend.value().get().and_then(Result::err))
            })/>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match invitations.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No pending invitations."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="list" role="list">
                                {list.into_iter().map(|inv| {
                                    let expired = inv.expired;
                                    let (id1, id2) = (inv.id.clone(), inv.id.clone());
                                    let (org1, org2) = (org.get_untracked(), org.get_untracked());
                                    view! {
                                        <li class="list-row">
                                            <div>
                                                <strong>{inv.email.clone()}</strong>
                                                " as " <span class="badge">{inv.role.clone()}</span>
                                                <div class="muted small">
                                                    {if expired { "Expired " } else { "Expires " }}
                                                    {format_time(inv.expires_at)}
                                                </div>
                                            </div>
                                            {writer.then(move || view! {
                                                <div class="row-actions">
                                                    <ActionForm action=resend>
                                                        <input type="hidden" name="org" value=org1/>
                                                        <input type="hidden" name="id" value=id1/>
                                                        <button type="submit" class="button small">"Resend"</button>
                                                    </ActionForm>
                                                    <ActionForm action=revoke>
                                                        <input type="hidden" name="org" value=org2/>
                                                        <input type="hidden" name="id" value=id2/>
                                                        <button type="submit" class="button small danger">"Revoke"</button>
                                                    </ActionForm>
                                                </div>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The one-time accept link of a new or re-sent invitation.
#[component]
fn InvitationLink(inv: super::Invitation) -> impl IntoView {
    inv.accept_url.map(|url| {
        view! {
            <div class="notice" role="status">
                <p>
                    "Invitation ready for " <strong>{inv.email.clone()}</strong>
                    ". Send them this link; it works once and expires on "
                    {format_time(inv.expires_at)} "."
                </p>
                <CopyField label="Accept link" value=url id="invite-link"/>
            </div>
        }
    })
}

#[component]
fn MemberRow(
    member: Member,
    org: String,
    writer: bool,
    roles: Vec<RoleInfo>,
    change: ServerAction<ChangeMemberRole>,
    set_active: ServerAction<SetMemberActive>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let active = member.status == "active";
    let select_id = format!("role-{}", member.user_id);
    let select_label = format!("Role of {}", member.email);
    let confirm = format!(
        "Remove {} from the organization? Their sessions end at once.",
        member.email
    );
    let (org1, org2, org3) = (org.clone(), org.clone(), org);
    let (uid1, uid2, uid3) = (
        member.user_id.clone(),
        member.user_id.clone(),
        member.user_id.clone(),
    );
    let current_role = member.role.clone();
    let options = roles
        .into_iter()
        .map(|r| {
            let selected = r.name == current_role;
            let value = r.name.clone();
            view! { <option value=value selected=selected>{r.name}</option> }
        })
        .collect_view();
    view! {
        <tr>
            <td>
                <div class="member-name">{member.name.clone()}</div>
                <div class="muted small">{member.email.clone()}</div>
            </td>
            <td><span class="badge">{member.role.clone()}</span> <span class="muted small">{format!(" via {}", member.source)}</span></td>
            <td><span class=format!("status status-{}", member.status)>{member.status.clone()}</span></td>
            <td class="nowrap">{format_time(member.joined_at)}</td>
            <td class="nowrap">{member.last_login_at.map(format_time).unwrap_or_else(|| "never".into())}</td>
            {writer.then(move || view! {
                <td>
                    <div class="row-actions">
                        <ActionForm action=change attr:class="inline-form">
                            <input type="hidden" name="org" value=org1/>
                            <input type="hidden" name="user_id" value=uid1/>
                            <label for=select_id.clone() class="sr-only">{select_label}</label>
                            <select id=select_id name="role">{options}</select>
                            <button type="submit" class="button small">"Change role"</button>
                        </ActionForm>
                        <ActionForm action=set_active>
                            <input type="hidden" name="org" value=org2/>
                            <input type="hidden" name="user_id" value=uid2/>
                            <input type="hidden" name="active" value=if active { "false" } else { "true" }/>
                            <button type="submit" class="button small">{if active { "Deactivate" } else { "Reactivate" }}</button>
                        </ActionForm>
                        <Confirm label="Remove…" question=confirm>
                            <ActionForm action=remove>
                                <input type="hidden" name="org" value=org3/>
                                <input type="hidden" name="user_id" value=uid3/>
                                <button type="submit" class="button small danger">"Yes, remove"</button>
                            </ActionForm>
                        </Confirm>
                    </div>
                </td>
            })}
        </tr>
    }
}
