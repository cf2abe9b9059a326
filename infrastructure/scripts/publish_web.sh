#!/usr/bin/env bash
# Serve one kept web build: copy s3://ARTIFACTS/web/TAG/ to the web bucket (hashed assets
# immutable, index.html revalidated), note which build is served (web/CURRENT) and which was
# before (web/PREVIOUS), and invalidate CloudFront's copy of index.html. Used by deploy.sh
# (a release) and rollback.sh web (the build before).
#
#   infrastructure/scripts/publish_web.sh ENV REGION TAG ARTIFACTS_BUCKET WEB_BUCKET DISTRIBUTION_ID --run|--dry-run
set -euo pipefail

(($# == 7)) || { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
readonly REGION="$2" TAG="$3" ARTIFACTS="$4" BUCKET="$5" DISTRIBUTION="$6"
case "$7" in
  --run) DRY_RUN=false ;;
  --dry-run) DRY_RUN=true ;;
  *) echo "publish_web.sh: the last argument is --run or --dry-run" >&2; exit 2 ;;
esac
[[ "$TAG" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "publish_web.sh: bad tag '$TAG'" >&2; exit 2; }

run() {
  if [[ "$DRY_RUN" == true ]]; then
    local out="" arg
    for arg in "$@"; do
      if [[ "$arg" =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then out+="$arg "; else out+="'${arg//\'/\'\\\'\'}' "; fi
    done
    echo "${out% }"
  else
    "$@"
  fi
}

# The build served until now (nothing the first time).
current=""
read_current=(aws s3 cp "s3://${ARTIFACTS}/web/CURRENT" - --region "$REGION")
if [[ "$DRY_RUN" == true ]]; then
  run "${read_current[@]}"
  current="<current>"
else
  current="$("${read_current[@]}" 2>/dev/null || true)"
fi

source="s3://${ARTIFACTS}/web/${TAG}"
run aws s3 sync "${source}/" "s3://${BUCKET}/" --region "$REGION" --delete \
  --exclude index.html --cache-control "public, max-age=31536000, immutable"
run aws s3 cp "${source}/index.html" "s3://${BUCKET}/index.html" --region "$REGION" \
  --cache-control "no-cache"
if [[ -n "$current" && "$current" != "$TAG" ]]; then
  if [[ "$DRY_RUN" == true ]]; then
    echo "aws s3 cp - s3://${ARTIFACTS}/web/PREVIOUS --region ${REGION}  # stdin: the current tag"
  else
    printf '%s' "$current" | aws s3 cp - "s3://${ARTIFACTS}/web/PREVIOUS" --region "$REGION"
  fi
fi
if [[ "$DRY_RUN" == true ]]; then
  echo "aws s3 cp - s3://${ARTIFACTS}/web/CURRENT --region ${REGION}  # stdin: ${TAG}"
else
  printf '%s' "$TAG" | aws s3 cp - "s3://${ARTIFACTS}/web/CURRENT" --region "$REGION"
fi
run aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION" --paths "/index.html" "/"
echo "==> web: serving build ${TAG}${current:+ (was ${current})}" >&2
