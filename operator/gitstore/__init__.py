"""Porch-compatible git storage of package revisions (GitPython and the git CLI underneath, async API on top).

Independent of kopf and of the engine: the operator calls it, it calls git. Entry point: `GitStore`, which
opens a `GitRepository` handle per registered Repository.

Branching strategy (the layout Porch writes, so Porch and kpt read what we write and we read what they wrote):

- The registered branch holds every published package under `<git.directory>/<package>`; the placeholder
  revision (-1) of a package is that directory at the branch head.
- A draft is branch `drafts/<path>/<workspace>`, a proposed revision `proposed/<path>/<workspace>` (the same
  commit moves between the two); a published revision is tag `<path>/v<N>` on the approval commit, which is
  also the branch head right after publishing; a DeletionProposed revision additionally has branch
  `deletionProposed/<path>/v<N>`. `<path>` is `<git.directory>/<package>`.
- Every commit message carries a `kpt:` JSON annotation (package, workspaceName, revision, task).

Local state: one bare mirror per URL under the cache directory whose branches and tags are the remote's as
of the last fetch; we never commit on them and never check out a working tree. New objects are written as
loose objects, then pushed; every change of the remote is one atomic push with the expected old value of
every ref, retried after a fetch when someone else moved a ref.
One asyncio lock per mirror serialises work on a repository; different repositories run in parallel.
Credentials reach git only through its environment (see `credentials.py`).
"""

from porch_operator.gitstore.credentials import (
    BasicAuth,
    BearerToken,
    Credentials,
    credentials_from_secret,
)
from porch_operator.gitstore.repository import GitRepository
from porch_operator.gitstore.revisions import (
    GitLock,
    PackageRevisionInfo,
    RefKind,
    RemotePackage,
    Signature,
)
from porch_operator.gitstore.store import GitStore
from porch_operator.gitstore.writing import PORCH_COMMITTER

__all__ = [
    "PORCH_COMMITTER",
    "BasicAuth",
    "BearerToken",
    "Credentials",
    "GitLock",
    "GitRepository",
    "GitStore",
    "PackageRevisionInfo",
    "RefKind",
    "RemotePackage",
    "Signature",
    "credentials_from_secret",
]
