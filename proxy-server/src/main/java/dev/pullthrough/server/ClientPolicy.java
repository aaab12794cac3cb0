package dev.pullthrough.server;

import dev.pullthrough.config.CidrBlock;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.Optional;

/** Which client addresses may pull (auth.allowCidrs); every address when no list is configured. */
public final class ClientPolicy {
    static final ClientPolicy ANYONE = new ClientPolicy(Optional.empty());

    private final Optional<List<CidrBlock>> allowed;

    public ClientPolicy(Optional<List<CidrBlock>> allowed) {
        this.allowed = allowed;
    }

    boolean allows(SocketAddress remote) {
        if (allowed.isEmpty()) {
            return true;
        }
        if (!(remote instanceof InetSocketAddress) || ((InetSocketAddress) remote).getAddress() == null) {
            return false;
        }
        return allowed.get().stream().anyMatch(block -> block.contains(((InetSocketAddress) remote).getAddress()));
    }
}
