-- Argo CD health of a FunctionConfig: it has no conditions; the function runner records the generation it
-- has read in status.functionRunnerObservedGeneration, and problems in status.error. Only FunctionConfigs in
-- the function runner's namespace (porch-fn-system by default) are ever read.
-- Runs with Argo CD's default libraries (base and table only).
local hs = {}
local meta = obj.metadata or {}
if meta.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end
local status = obj.status or {}
if status.error ~= nil and status.error ~= "" then
  hs.status = "Degraded"
  hs.message = status.error
  return hs
end
local generation = meta.generation
local observed = status.functionRunnerObservedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the function runner to read generation " .. generation
    .. " (it reads FunctionConfigs in its own namespace only)"
  return hs
end
hs.status = "Healthy"
hs.message = "Read by the function runner"
return hs
