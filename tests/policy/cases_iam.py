"""Cases for the identity and access policies: keys, hierarchy roles, custom roles, token creators,
public members."""

from __future__ import annotations

import guardrail

from tests.policy.resources import (
    A_SERVICE_ACCOUNT,
    PUBSUB_AGENT,
    TRAINER_EMAIL,
    Base,
    Case,
    as_binding,
    as_policy,
    bucket_acl,
    policy_data,
    with_changes,
)

OWNER_ENTITY = "project-owners-123456789012"
PROJECT_MEMBER_TYPE = "gcp:projects/iAMMember:IAMMember"
SA_MEMBER_TYPE = "gcp:serviceaccount/iAMMember:IAMMember"
CUSTOM_ROLE = "projects/mlops-course-123/roles/{}"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"

PROJECT_MEMBER = Base("project member", PROJECT_MEMBER_TYPE)
PROJECT_USER_MEMBER = Base(
    "project member, a user", PROJECT_MEMBER_TYPE, derive=with_changes(member="user:alice@example.com")
)
PROJECT_BINDING = Base(
    "project binding", "gcp:projects/iAMBinding:IAMBinding", source=PROJECT_MEMBER_TYPE, derive=as_binding
)
PROJECT_POLICY = Base(
    "project policy", "gcp:projects/iAMPolicy:IAMPolicy", source=PROJECT_MEMBER_TYPE, derive=as_policy
)
PROJECT_MEMBER_EXACT_ROLES = Base(
    "project member, exact custom roles",
    PROJECT_MEMBER_TYPE,
    derive=with_changes(role="roles/aiplatform.user"),
    config={"allowedProjectCustomRoles": ["mlopsAuditor"]},
)
FOLDER_MEMBER = Base("folder member", "gcp:folder/iAMMember:IAMMember")
FOLDER_SA_MEMBER = Base(
    "folder member, a service account", FOLDER_MEMBER.type, derive=with_changes(member=A_SERVICE_ACCOUNT)
)
FOLDER_BINDING = Base(
    "folder binding", "gcp:folder/iAMBinding:IAMBinding", source=FOLDER_MEMBER.type, derive=as_binding
)
ORGANIZATION_MEMBER = Base("organization member", "gcp:organizations/iAMMember:IAMMember")
ORGANIZATION_BINDING = Base(
    "organization binding",
    "gcp:organizations/iAMBinding:IAMBinding",
    source=ORGANIZATION_MEMBER.type,
    derive=as_binding,
)
ORGANIZATION_POLICY = Base(
    "organization policy", "gcp:organizations/iAMPolicy:IAMPolicy", source=ORGANIZATION_MEMBER.type, derive=as_policy
)
SA_MEMBER = Base("service account member", SA_MEMBER_TYPE)
SA_BINDING = Base(
    "service account binding", "gcp:serviceaccount/iAMBinding:IAMBinding", source=SA_MEMBER_TYPE, derive=as_binding
)
SA_POLICY = Base(
    "service account policy", "gcp:serviceaccount/iAMPolicy:IAMPolicy", source=SA_MEMBER_TYPE, derive=as_policy
)
SA_AGENT_TOKEN_CREATOR = Base(
    "token creator, a service agent", SA_MEMBER_TYPE, derive=with_changes(member=PUBSUB_AGENT, role=TOKEN_CREATOR)
)
SA_SELF_TOKEN_CREATOR = Base(
    "token creator, the account itself",
    SA_MEMBER_TYPE,
    derive=with_changes(
        member=A_SERVICE_ACCOUNT,
        role=TOKEN_CREATOR,
        serviceAccountId=f"projects/mlops-course-123/serviceAccounts/{TRAINER_EMAIL}",
    ),
)
BUCKET_MEMBER = Base("bucket member", "gcp:storage/bucketIAMMember:BucketIAMMember")
BUCKET_BINDING = Base(
    "bucket binding", "gcp:storage/bucketIAMBinding:BucketIAMBinding", source=BUCKET_MEMBER.type, derive=as_binding
)
BUCKET_ACCESS_CONTROL = Base(
    "bucket access control",
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    source=guardrail.BUCKET,
    derive=bucket_acl(role="OWNER", entity=OWNER_ENTITY),
)
DEFAULT_OBJECT_ACCESS_CONTROL = Base(
    "default object access control",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
    source=guardrail.BUCKET,
    derive=bucket_acl(role="OWNER", entity=OWNER_ENTITY),
)
BUCKET_ACL = Base(
    "bucket ACL",
    "gcp:storage/bucketACL:BucketACL",
    source=guardrail.BUCKET,
    derive=bucket_acl(roleEntities=[f"OWNER:{OWNER_ENTITY}"]),
)
DEFAULT_OBJECT_ACL = Base(
    "default object ACL",
    "gcp:storage/defaultObjectACL:DefaultObjectACL",
    source=guardrail.BUCKET,
    derive=bucket_acl(roleEntities=[f"OWNER:{OWNER_ENTITY}"]),
)
REPOSITORY_MEMBER = Base("repository member", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
RUN_INVOKER_MEMBER = Base("Cloud Run invoker", "gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
RUN_PUBLIC_MEMBER = Base("Cloud Run member, public", RUN_INVOKER_MEMBER.type, derive=with_changes(member="allUsers"))
RUN_INVOKER_POLICY = Base(
    "Cloud Run invoker policy",
    "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy",
    source=RUN_INVOKER_MEMBER.type,
    derive=as_policy,
)
SERVICE_ACCOUNT_KEY = Base("key", guardrail.SERVICE_ACCOUNT_KEY)
HMAC_KEY = Base("HMAC key", guardrail.HMAC_KEY)

NEGATIVE_CASES: list[Case] = [
    ("no-service-account-keys", SERVICE_ACCOUNT_KEY, "keyAlgorithm", "KEY_ALG_RSA_2048"),
    ("no-service-account-keys", HMAC_KEY, "state", "ACTIVE"),
    # Basic roles, for anyone; admin roles (any case), for service accounts; member, binding or policy;
    # project, folder or organization.
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/owner"),
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/editor"),
    ("no-basic-or-admin-project-roles", PROJECT_USER_MEMBER, "role", "roles/viewer"),
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/storage.admin"),
    ("no-basic-or-admin-project-roles", PROJECT_MEMBER, "role", "roles/iam.serviceAccountAdmin"),
    ("no-basic-or-admin-project-roles", PROJECT_BINDING, "role", "roles/owner"),
    ("no-basic-or-admin-project-roles", PROJECT_BINDING, "role", "roles/iam.serviceAccountAdmin"),
    (
        "no-basic-or-admin-project-roles",
        PROJECT_POLICY,
        "policyData",
        policy_data(("roles/iam.serviceAccountAdmin", A_SERVICE_ACCOUNT)),
    ),
    ("no-basic-or-admin-project-roles", FOLDER_MEMBER, "role", "roles/owner"),
    ("no-basic-or-admin-project-roles", FOLDER_SA_MEMBER, "role", "roles/resourcemanager.folderAdmin"),
    ("no-basic-or-admin-project-roles", FOLDER_BINDING, "role", "roles/editor"),
    ("no-basic-or-admin-project-roles", ORGANIZATION_MEMBER, "role", "roles/viewer"),
    ("no-basic-or-admin-project-roles", ORGANIZATION_BINDING, "role", "roles/owner"),
    (
        "no-basic-or-admin-project-roles",
        ORGANIZATION_POLICY,
        "policyData",
        policy_data(("roles/owner", A_SERVICE_ACCOUNT)),
    ),
    ("no-project-impersonation-roles", PROJECT_MEMBER, "role", TOKEN_CREATOR),
    ("no-project-impersonation-roles", PROJECT_MEMBER, "role", "roles/iam.serviceAccountUser"),
    ("no-project-impersonation-roles", PROJECT_MEMBER, "role", "roles/iam.workloadIdentityUser"),
    ("no-project-impersonation-roles", PROJECT_MEMBER, "role", "roles/iam.serviceAccountOpenIdTokenCreator"),
    ("no-project-impersonation-roles", PROJECT_BINDING, "role", TOKEN_CREATOR),
    ("no-project-impersonation-roles", PROJECT_BINDING, "role", "roles/iam.serviceAccountUser"),
    (
        "no-project-impersonation-roles",
        PROJECT_POLICY,
        "policyData",
        policy_data(("roles/iam.serviceAccountUser", A_SERVICE_ACCOUNT)),
    ),
    ("no-project-impersonation-roles", FOLDER_MEMBER, "role", "roles/iam.serviceAccountUser"),
    ("no-project-impersonation-roles", ORGANIZATION_BINDING, "role", TOKEN_CREATOR),
    (
        "no-project-impersonation-roles",
        ORGANIZATION_POLICY,
        "policyData",
        policy_data(("roles/iam.workloadIdentityUser", "principalSet://iam.googleapis.com/x")),
    ),
    # Custom roles: at project level only those allowed by the config (prefix* or exact), never above.
    ("custom-roles-allow-listed", PROJECT_MEMBER, "role", CUSTOM_ROLE.format("broadDeployer")),
    ("custom-roles-allow-listed", PROJECT_MEMBER, "role", "organizations/123456789/roles/orgWideRole"),
    ("custom-roles-allow-listed", PROJECT_BINDING, "role", CUSTOM_ROLE.format("xgcpMlopsDeployer")),
    (
        "custom-roles-allow-listed",
        PROJECT_POLICY,
        "policyData",
        policy_data((CUSTOM_ROLE.format("broadDeployer"), A_SERVICE_ACCOUNT)),
    ),
    ("custom-roles-allow-listed", PROJECT_MEMBER_EXACT_ROLES, "role", CUSTOM_ROLE.format("mlopsAuditorPlus")),
    ("custom-roles-allow-listed", PROJECT_MEMBER_EXACT_ROLES, "role", CUSTOM_ROLE.format("gcpMlopsDeployer")),
    ("custom-roles-allow-listed", FOLDER_MEMBER, "role", "organizations/123456789/roles/gcpMlopsDeployer"),
    ("custom-roles-allow-listed", ORGANIZATION_MEMBER, "role", "organizations/123456789/roles/gcpMlopsDeployer"),
    # Token creators on a service account: anyone but a Google service agent or the account itself.
    ("no-token-creator-on-service-accounts", SA_MEMBER, "role", TOKEN_CREATOR),
    ("no-token-creator-on-service-accounts", SA_MEMBER, "role", "roles/iam.serviceAccountOpenIdTokenCreator"),
    ("no-token-creator-on-service-accounts", SA_BINDING, "role", TOKEN_CREATOR),
    (
        "no-token-creator-on-service-accounts",
        SA_POLICY,
        "policyData",
        policy_data((TOKEN_CREATOR, "user:alice@example.com")),
    ),
    (
        "no-token-creator-on-service-accounts",
        SA_AGENT_TOKEN_CREATOR,
        "member",
        "serviceAccount:service-123456789012@mlops-course-123.iam.gserviceaccount.com",  # looks like one, is not
    ),
    ("no-token-creator-on-service-accounts", SA_AGENT_TOKEN_CREATOR, "member", "user:alice@example.com"),
    (
        "no-token-creator-on-service-accounts",
        SA_SELF_TOKEN_CREATOR,
        "serviceAccountId",
        "projects/mlops-course-123/serviceAccounts/deployer-dev@mlops-course-123.iam.gserviceaccount.com",
    ),
    # Public principals in every shape a grant takes: member, members, entity, roleEntities, policyData.
    ("no-public-members", BUCKET_MEMBER, "member", "allUsers"),
    ("no-public-members", REPOSITORY_MEMBER, "member", "allAuthenticatedUsers"),
    ("no-public-members", BUCKET_BINDING, "members", [A_SERVICE_ACCOUNT, "allUsers"]),
    ("no-public-members", PROJECT_BINDING, "members", ["allAuthenticatedUsers"]),
    ("no-public-members", BUCKET_ACCESS_CONTROL, "entity", "allUsers"),
    ("no-public-members", DEFAULT_OBJECT_ACCESS_CONTROL, "entity", "allAuthenticatedUsers"),
    ("no-public-members", BUCKET_ACL, "roleEntities", [f"OWNER:{OWNER_ENTITY}", "READER:allUsers"]),
    ("no-public-members", DEFAULT_OBJECT_ACL, "roleEntities", ["READER:allAuthenticatedUsers"]),
    ("no-public-members", PROJECT_POLICY, "policyData", policy_data(("roles/viewer", "allUsers"))),
    ("no-public-members", RUN_PUBLIC_MEMBER, "role", "roles/run.developer"),
    ("no-public-members", RUN_INVOKER_POLICY, "policyData", policy_data(("roles/run.admin", "allUsers"))),
]

ALLOWED_CASES: list[Case] = [
    ("no-basic-or-admin-project-roles", PROJECT_USER_MEMBER, "role", "roles/storage.admin"),
    ("no-basic-or-admin-project-roles", FOLDER_MEMBER, "role", "roles/resourcemanager.folderAdmin"),
    ("custom-roles-allow-listed", PROJECT_MEMBER, "role", CUSTOM_ROLE.format("gcpMlopsDeployer")),
    ("custom-roles-allow-listed", PROJECT_BINDING, "role", CUSTOM_ROLE.format("gcpMlopsPreviewer")),
    ("custom-roles-allow-listed", PROJECT_MEMBER, "role", "organizations/123456789/roles/gcpMlopsDeployer"),
    ("custom-roles-allow-listed", PROJECT_MEMBER_EXACT_ROLES, "role", CUSTOM_ROLE.format("mlopsAuditor")),
    ("custom-roles-allow-listed", FOLDER_MEMBER, "role", "roles/resourcemanager.folderViewer"),
    (
        "no-token-creator-on-service-accounts",
        SA_AGENT_TOKEN_CREATOR,
        "member",
        "serviceAccount:service-123456789012@compute-system.iam.gserviceaccount.com",
    ),
    (
        "no-token-creator-on-service-accounts",
        SA_AGENT_TOKEN_CREATOR,
        "member",
        "serviceAccount:123456789012@cloudservices.gserviceaccount.com",
    ),
    ("no-token-creator-on-service-accounts", SA_SELF_TOKEN_CREATOR, "serviceAccountId", TRAINER_EMAIL),
    ("no-token-creator-on-service-accounts", SA_MEMBER, "role", "roles/iam.serviceAccountUser"),
    ("no-public-members", RUN_INVOKER_MEMBER, "member", "allUsers"),  # cloudrun-public-serving decides
    ("no-public-members", RUN_INVOKER_POLICY, "policyData", policy_data(("roles/run.invoker", "allUsers"))),
]
