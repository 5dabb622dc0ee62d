-- Argo CD health of a porch-operator object whose status follows kstatus: Repository, PackageRevision,
-- PackageRevisionResources, Package, PackageVariant, PackageVariantSet. The same reading as Flux's
-- (kstatus): Current -> Healthy, InProgress -> Progressing, Failed (Stalled=True) -> Degraded. It differs in
-- one place: an object without any status is Progressing (kstatus would call it Current), because the
-- operator writes a status (Ready, where the kind has it) at its first look at an object.
-- Runs with Argo CD's default libraries (base and table only): no string or math functions.
local hs = {}
local meta = obj.metadata or {}
if meta.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end
local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for porch-operator to report a status"
  return hs
end

local ready = nil
local stalled = nil
local reconciling = nil
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    elseif condition.type == "Stalled" and condition.status == "True" then
      stalled = condition
    elseif condition.type == "Reconciling" and condition.status == "True" then
      reconciling = condition
    end
  end
end

local function describe(condition)
  if condition.reason ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.reason .. ": " .. condition.message
  end
  return condition.message or condition.reason or ""
end

-- The generation the status describes: status.observedGeneration, else (PackageVariant, PackageVariantSet)
-- the Ready condition's own.
local observed = status.observedGeneration
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
local generation = meta.generation
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for porch-operator to observe generation " .. generation
  return hs
end
if reconciling ~= nil then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end
if stalled ~= nil then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if ready == nil then
  -- A kind without Ready (Package, a summary) is current once its status is written (kstatus Current).
  hs.status = "Healthy"
  hs.message = "Observed by porch-operator"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
else
  -- Ready=False without Stalled: the operator is still working or retrying (kstatus InProgress).
  hs.status = "Progressing"
end
hs.message = describe(ready)
return hs
