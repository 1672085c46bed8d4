# Kubernetes: a kustomize base in k8s/base, what the options add in k8s/components/, and one
# overlay per environment in k8s/overlays/.
# OVERLAY picks the overlay; KUSTOMIZE and KUBECTL the tools (KUSTOMIZE="kubectl kustomize"
# works where only kubectl is installed). README: Kubernetes.
OVERLAY ?= dev
KUSTOMIZE ?= kustomize
KUBECTL ?= kubectl
# The Kubernetes versions whose API schemas every overlay must match, strictly (unknown fields fail).
K8S_VERSIONS ?= 1.32 1.33 1.34 1.35 1.36 1.37

.PHONY: k8s-render k8s-validate k8s-diff k8s-apply

k8s-render:  ## Print the manifests of one overlay (OVERLAY=dev, the default, or production)
	$(KUSTOMIZE) build k8s/overlays/$(OVERLAY)

k8s-validate:  ## Render every overlay and validate it against the Kubernetes API schemas
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for overlay in k8s/overlays/*/; do \
		$(KUSTOMIZE) build "$$overlay" >"$$tmp/$$(basename "$$overlay").yaml" || exit 1; \
	done && \
	for version in $(K8S_VERSIONS); do \
		$(call run-tool,kubernetes-validate==1.37.0,kubernetes-validate) --strict --quiet \
			--kubernetes-version "$$version" "$$tmp"/*.yaml || exit 1; \
	done

k8s-diff:  ## Show what k8s-apply would change in the current kubectl context's cluster
	$(KUBECTL) diff -k k8s/overlays/$(OVERLAY)

k8s-apply:  ## Apply the OVERLAY to the current kubectl context's cluster
	$(KUBECTL) apply -k k8s/overlays/$(OVERLAY)
