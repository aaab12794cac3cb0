package dev.pullthrough.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Who may pull: an htpasswd file of users, and client address ranges. Both off when absent. */
public record AuthConfig(Optional<Path> htpasswd, Optional<List<CidrBlock>> allowCidrs) {}
