#!/usr/bin/env bash
# Roll MDReader back on AWS.
#
#   infrastructure/scripts/rollback.sh ENV REGION ACTION [ARG] [--dry-run]
#
# Actions
#   stack STACK            a stack update that is stuck or failed: cancel an update in
#                          progress (CloudFormation then restores the previous state) or
#                          continue a rollback that itself failed (UPDATE_ROLLBACK_FAILED)
#   service api|collab     point the ECS service at the task-definition revision before
#                          the current one, or at --task-definition ARN, and wait until
#                          it is stable. Fast, but CloudFormation still records the newer
#                          revision: follow with `image` to make the rollback durable.
#   image URI              redeploy the backend and websocket stacks with an earlier image
#                          through deploy.sh (the durable rollback of a bad release)
#   web [TAG]              serve the web build before the current one again (or build TAG,
#                          one kept in the artifacts bucket under web/TAG/)
#   release                the previous release: both services to their previous task
#                          definition revision, and the previous web build
#
# Options
#   --task-definition ARN  with `service`: the revision to return to
#   --dry-run              print every aws command instead of running it
#   -h, --help             this text
#
# The schema is not rolled back: migrations are expand/contract, and the previous image runs
# on a schema whose newer revisions are marked compatible (docs/operations.md,
# "Migrations"). For a revision that is not, restore a backup (docs/deploy-aws.md, "Restore").
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly STACKS=(artifacts vpc security database jobs backend websocket edge frontend monitoring dr backup)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
  echo "rollback.sh: $*" >&2
  exit 2
}

DRY_RUN=false
TASK_DEFINITION=""
POSITIONAL=()
while (($# > 0)); do
  case "$1" in
    --dry-run) DRY_RUN=true ;;
    --task-definition) TASK_DEFINITION="${2:?--task-definition needs a value}"; shift ;;
    --task-definition=*) TASK_DEFINITION="${1#*=}" ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) POSITIONAL+=("$1") ;;
  esac
  shift
done

# `web` takes an optional tag: `rollback.sh ENV REGION web` serves the previous build.
if ((${#POSITIONAL[@]} == 3)) && [[ "${POSITIONAL[2]}" == web || "${POSITIONAL[2]}" == release ]]; then
  POSITIONAL+=(previous)
fi
((${#POSITIONAL[@]} == 4)) || { usage >&2; exit 2; }
ENV="${POSITIONAL[0]}"
REGION="${POSITIONAL[1]}"
ACTION="${POSITIONAL[2]}"
TARGET="${POSITIONAL[3]}"
case "$ENV" in
  dev | prod) ;;
  *) die "ENV must be dev or prod, not '$ENV'" ;;
esac
[[ "$REGION" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || die "'$REGION' does not look like an AWS region"
readonly ENV REGION ACTION DRY_RUN
readonly ENV_NAME="mdreader-${ENV}"

if [[ "$DRY_RUN" == false ]]; then
  command -v aws >/dev/null || die "the AWS CLI (v2) is not installed"
fi

run() {
  if [[ "$DRY_RUN" == true ]]; then
    local out="" arg
    for arg in "$@"; do
      if [[ "$arg" =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then
        out+="$arg "
      else
        out+="'${arg//\'/\'\\\'\'}' "
      fi
    done
    echo "${out% }"
  else
    "$@"
  fi
}

# query VAR CMD...: run a read-only aws command into VAR (a placeholder in a dry run).
query() {
  local var="$1" placeholder="$2"
  shift 2
  if [[ "$DRY_RUN" == true ]]; then
    run "$@"
    printf -v "$var" '%s' "$placeholder"
  else
    printf -v "$var" '%s' "$("$@")"
  fi
}

wait_for_stack() {
  # Poll until the stack leaves every *_IN_PROGRESS state; print the final state.
  local stack="$1" status
  if [[ "$DRY_RUN" == true ]]; then
    echo "# then poll: aws cloudformation describe-stacks --stack-name ${stack} until no *_IN_PROGRESS"
    return 0
  fi
  while true; do
    status="$(aws cloudformation describe-stacks --region "$REGION" --stack-name "$stack" \
      --query 'Stacks[0].StackStatus' --output text)"
    [[ "$status" == *_IN_PROGRESS ]] || break
    echo "    ${stack}: ${status}" >&2
    sleep 15
  done
  echo "==> ${stack}: ${status}" >&2
  [[ "$status" == UPDATE_ROLLBACK_COMPLETE || "$status" == UPDATE_COMPLETE ]]
}

rollback_stack() {
  [[ " ${STACKS[*]} " == *" $TARGET "* ]] || die "unknown stack '$TARGET' (one of: ${STACKS[*]})"
  local stack="${ENV_NAME}-${TARGET}" status
  query status UPDATE_IN_PROGRESS aws cloudformation describe-stacks --region "$REGION" \
    --stack-name "$stack" --query 'Stacks[0].StackStatus' --output text
  if [[ "$DRY_RUN" == true ]]; then
    echo "# if UPDATE_IN_PROGRESS:"
    run aws cloudformation cancel-update-stack --region "$REGION" --stack-name "$stack"
    echo "# if UPDATE_ROLLBACK_FAILED:"
    run aws cloudformation continue-update-rollback --region "$REGION" --stack-name "$stack"
    wait_for_stack "$stack"
    return 0
  fi
  case "$status" in
    UPDATE_IN_PROGRESS)
      run aws cloudformation cancel-update-stack --region "$REGION" --stack-name "$stack" ;;
    UPDATE_ROLLBACK_FAILED)
      run aws cloudformation continue-update-rollback --region "$REGION" --stack-name "$stack" ;;
    UPDATE_ROLLBACK_COMPLETE | UPDATE_ROLLBACK_IN_PROGRESS)
      echo "==> ${stack} is already rolling back or rolled back (${status})" >&2 ;;
    *)
      die "${stack} is ${status}: nothing to roll back in CloudFormation. For a bad release use
  rollback.sh ${ENV} ${REGION} image <previous image>; for a bad template change, check out the
  previous revision of infrastructure/ and run deploy.sh ${ENV} ${REGION} --only ${TARGET}" ;;
  esac
  wait_for_stack "$stack"
}

rollback_service() {
  local service
  case "$TARGET" in
    api) service=api ;;
    collab | websocket) service=collab ;;
    *) die "service must be api or collab, not '$TARGET'" ;;
  esac
  local cluster="$ENV_NAME" current previous="$TASK_DEFINITION"
  query current "arn:aws:ecs:${REGION}:ACCOUNT:task-definition/${ENV_NAME}-${service}:N" \
    aws ecs describe-services --region "$REGION" --cluster "$cluster" --services "$service" \
    --query 'services[0].taskDefinition' --output text
  if [[ -z "$previous" ]]; then
    if [[ "$DRY_RUN" == true ]]; then
      previous="${current%:N}:N-1"
    else
      local revision="${current##*:}"
      if ! [[ "$revision" =~ ^[0-9]+$ ]] || ((revision <= 1)); then
        die "no revision before ${current}"
      fi
      previous="${current%:*}:$((revision - 1))"
    fi
  fi
  echo "==> ${cluster}/${service}: ${current} -> ${previous}" >&2
  run aws ecs update-service --region "$REGION" --cluster "$cluster" --service "$service" \
    --task-definition "$previous"
  run aws ecs wait services-stable --region "$REGION" --cluster "$cluster" --services "$service"
  echo "==> CloudFormation still records ${current}; make this durable with:" >&2
  echo "    $(dirname "$SCRIPT_DIR")/scripts/rollback.sh ${ENV} ${REGION} image <image of ${previous}>" >&2
}

rollback_image() {
  local args=("$ENV" "$REGION" --image "$TARGET" --only "backend,websocket" --skip-web)
  [[ "$DRY_RUN" == true ]] && args+=(--dry-run)
  "${SCRIPT_DIR}/deploy.sh" "${args[@]}"
}

stack_output() {
  # stack_output VAR STACK KEY
  local var="$1" stack="$2" key="$3"
  query "$var" "<${stack}.${key}>" aws cloudformation describe-stacks --region "$REGION" \
    --stack-name "${ENV_NAME}-${stack}" \
    --query "Stacks[0].Outputs[?OutputKey=='${key}'].OutputValue" --output text
}

rollback_web() {
  local artifacts bucket distribution tag="$1"
  stack_output artifacts artifacts ArtifactsBucketName
  stack_output bucket frontend WebBucketName
  stack_output distribution frontend DistributionId
  if [[ "$tag" == previous ]]; then
    query tag PREVIOUS-TAG aws s3 cp "s3://${artifacts}/web/PREVIOUS" - --region "$REGION"
    [[ -n "$tag" ]] || die "no previous web build is recorded (web/PREVIOUS)"
  fi
  echo "==> web: back to build ${tag}" >&2
  "${SCRIPT_DIR}/publish_web.sh" "$ENV" "$REGION" "$tag" "$artifacts" "$bucket" "$distribution" \
    "$([[ "$DRY_RUN" == true ]] && echo --dry-run || echo --run)"
}

case "$ACTION" in
  stack) rollback_stack ;;
  service) rollback_service ;;
  image) rollback_image ;;
  web) rollback_web "$TARGET" ;;
  release)
    TASK_DEFINITION=""
    for TARGET in api collab; do rollback_service; done
    rollback_web previous
    ;;
  *) die "unknown action '$ACTION' (stack, service, image, web or release)" ;;
esac
